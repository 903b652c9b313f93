#include "actions/pods.hpp"

#include "test/support/temp_dir.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {

using rollbot::actions::current_replicaset_hash;
using rollbot::actions::parse_pods;
using rollbot::actions::parse_warning_events;
using rollbot::core::PodsCheck;
using rollbot::core::PodState;

constexpr std::string_view kNewHash = "7d9c6b5f4";
constexpr std::string_view kOldHash = "6b8f7c9d2";

// One pod as `kubectl get pods -o json` lists it (reference §2): `ready` is the Ready
// condition, `statuses` the containerStatuses array.
std::string pod(std::string_view name,
                std::string_view hash,
                std::string_view phase,
                bool ready,
                std::string_view statuses) {
    const std::string why_not =
        ready
            ? ""
            : R"(,"reason":"ContainersNotReady","message":"containers with unready status: [backend]")";
    return fmt::format(
        R"({{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{0}","generateName":"backend-{1}-",)"
        R"("namespace":"preskool","uid":"5c1f1e0a-7d1b-4c57-9d1e-{1}","creationTimestamp":"2025-05-02T14:00:03Z",)"
        R"("labels":{{"app":"backend","pod-template-hash":"{1}"}},"ownerReferences":[{{"apiVersion":"apps/v1",)"
        R"("kind":"ReplicaSet","name":"backend-{1}","uid":"0e6c0d9e-{1}","controller":true,"blockOwnerDeletion":true}}]}},)"
        R"("spec":{{"containers":[{{"name":"backend","image":"ghcr.io/your-org/preskool-backend:e4d5c6b7"}}],)"
        R"("nodeName":"node-1","restartPolicy":"Always"}},"status":{{"phase":"{2}","conditions":[)"
        R"({{"type":"Initialized","status":"True","lastTransitionTime":"2025-05-02T14:00:03Z"}},)"
        R"({{"type":"Ready","status":"{3}","lastTransitionTime":"2025-05-02T14:00:03Z"{4}}},)"
        R"({{"type":"ContainersReady","status":"{3}","lastTransitionTime":"2025-05-02T14:00:03Z"{4}}},)"
        R"({{"type":"PodScheduled","status":"True","lastTransitionTime":"2025-05-02T14:00:03Z"}}],)"
        R"("containerStatuses":{5},"hostIP":"10.0.0.11","podIP":"10.244.1.10","qosClass":"BestEffort",)"
        R"("startTime":"2025-05-02T14:00:03Z"}}}})",
        name,
        hash,
        phase,
        ready ? "True" : "False",
        why_not,
        statuses);
}

std::string list(const std::vector<std::string>& items) {
    std::string joined;
    for (const auto& item : items) {
        joined += (joined.empty() ? "" : ",") + item;
    }
    return R"({"apiVersion":"v1","kind":"List","items":[)" + joined +
           R"(],"metadata":{"resourceVersion":""}})";
}

constexpr std::string_view kCrashLoop =
    R"j([{"name":"backend","image":"ghcr.io/your-org/preskool-backend:e4d5c6b7","imageID":"ghcr.io/your-org/preskool-backend@sha256:1f0c","containerID":"containerd://8a1b","ready":false,"started":false,"restartCount":4,)j"
    R"j("state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off 1m20s restarting failed container=backend pod=backend-7d9c6b5f4-x2k8p_preskool(5c1f1e0a)"}},)j"
    R"j("lastState":{"terminated":{"exitCode":1,"reason":"Error","startedAt":"2025-05-02T14:02:41Z","finishedAt":"2025-05-02T14:02:44Z","containerID":"containerd://77aa"}}}])j";
constexpr std::string_view kOomKilled =
    R"j([{"name":"backend","image":"ghcr.io/your-org/preskool-backend:e4d5c6b7","imageID":"ghcr.io/your-org/preskool-backend@sha256:1f0c","containerID":"containerd://8a1c","ready":false,"started":false,"restartCount":3,)j"
    R"j("state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off 40s restarting failed container=backend pod=backend-7d9c6b5f4-q9w3z_preskool(6d2a)"}},)j"
    R"j("lastState":{"terminated":{"exitCode":137,"reason":"OOMKilled","startedAt":"2025-05-02T14:02:50Z","finishedAt":"2025-05-02T14:03:12Z","containerID":"containerd://77ab"}}}])j";
constexpr std::string_view kImagePullBackOff =
    R"([{"name":"backend","image":"ghcr.io/your-org/preskool-backend:0000000","imageID":"","ready":false,"started":false,"restartCount":0,)"
    R"("state":{"waiting":{"reason":"ImagePullBackOff","message":"Back-off pulling image \"ghcr.io/your-org/preskool-backend:0000000\""}},"lastState":{}}])";
constexpr std::string_view kErrImagePull =
    R"([{"name":"backend","image":"ghcr.io/your-org/preskool-backend:0000000","imageID":"","ready":false,"started":false,"restartCount":0,)"
    R"("state":{"waiting":{"reason":"ErrImagePull","message":"rpc error: code = NotFound desc = failed to pull and unpack image"}},"lastState":{}}])";
constexpr std::string_view kRunningNotReady =
    R"([{"name":"backend","image":"ghcr.io/your-org/preskool-backend:e4d5c6b7","imageID":"ghcr.io/your-org/preskool-backend@sha256:1f0c","containerID":"containerd://8a1d","ready":false,"started":true,"restartCount":0,)"
    R"("state":{"running":{"startedAt":"2025-05-02T14:00:05Z"}},"lastState":{}}])";
constexpr std::string_view kHealthy =
    R"([{"name":"backend","image":"ghcr.io/your-org/preskool-backend:abc1234f","imageID":"ghcr.io/your-org/preskool-backend@sha256:9e2d","containerID":"containerd://8a1e","ready":true,"started":true,"restartCount":0,)"
    R"("state":{"running":{"startedAt":"2025-04-29T10:00:05Z"}},"lastState":{}}])";

// Pending and not yet scheduled: no containerStatuses at all.
constexpr std::string_view kUnschedulable =
    R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"backend-7d9c6b5f4-p3nd1","labels":{"app":"backend","pod-template-hash":"7d9c6b5f4"}},)"
    R"("spec":{"containers":[{"name":"backend","image":"x"}]},"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False",)"
    R"("lastProbeTime":null,"lastTransitionTime":"2025-05-02T14:00:03Z","reason":"Unschedulable","message":"0/2 nodes are available: 2 Insufficient memory."}],"qosClass":"Burstable"}})";

PodsCheck with_pods(std::vector<PodState> pods) {
    PodsCheck check;
    check.pods = std::move(pods);
    return check;
}

PodState pod_state(std::string name, std::string phase, bool ready = false, int restarts = 0) {
    PodState state;
    state.name = std::move(name);
    state.phase = std::move(phase);
    state.ready = ready;
    state.restarts = restarts;
    return state;
}

PodState only_pod(std::string_view statuses,
                  std::string_view phase = "Running",
                  bool ready = false) {
    const auto check =
        parse_pods("backend",
                   list({pod("backend-7d9c6b5f4-x2k8p", kNewHash, phase, ready, statuses)}),
                   kNewHash);
    EXPECT_EQ(check.error, "");
    EXPECT_EQ(check.pods.size(), 1u);
    return check.pods.empty() ? PodState{} : check.pods.front();
}

TEST(PodsParse, CrashLoopBackOffPodIsCrashLooping) {
    const auto p = only_pod(kCrashLoop);
    EXPECT_EQ(p,
              (PodState{.name = "backend-7d9c6b5f4-x2k8p",
                        .phase = "Running",
                        .ready = false,
                        .restarts = 4,
                        .waiting_reason = "CrashLoopBackOff",
                        .last_terminated_reason = "Error"}));
    const auto check = with_pods({p});
    EXPECT_TRUE(check.crash_looping());
    EXPECT_FALSE(check.oom_killed());
    EXPECT_FALSE(check.image_pull_failing());
    EXPECT_EQ(check.ready(), 0);
}

TEST(PodsParse, OomKilledWithRestartsIsOomKilledAndCrashLooping) {
    const auto check = with_pods({only_pod(kOomKilled)});
    EXPECT_EQ(check.pods[0].restarts, 3);
    EXPECT_EQ(check.pods[0].last_terminated_reason, "OOMKilled");
    EXPECT_TRUE(check.oom_killed());
    EXPECT_TRUE(check.crash_looping());
}

TEST(PodsParse, ImagePullBackOffIsPendingAndImagePullFailing) {
    const auto check = with_pods({only_pod(kImagePullBackOff, "Pending")});
    EXPECT_EQ(check.pods[0].phase, "Pending");
    EXPECT_EQ(check.pods[0].waiting_reason, "ImagePullBackOff");
    EXPECT_TRUE(check.image_pull_failing());
    EXPECT_FALSE(check.crash_looping());
}

TEST(PodsParse, ErrImagePullIsImagePullFailing) {
    const auto check = with_pods({only_pod(kErrImagePull, "Pending")});
    EXPECT_EQ(check.pods[0].waiting_reason, "ErrImagePull");
    EXPECT_TRUE(check.image_pull_failing());
}

TEST(PodsParse, RunningButNotReadyIsNotReadyAndNotCrashLooping) {
    const auto check = with_pods({only_pod(kRunningNotReady)});
    EXPECT_EQ(check.pods[0].phase, "Running");
    EXPECT_FALSE(check.pods[0].ready);
    EXPECT_EQ(check.ready(), 0);
    EXPECT_FALSE(check.crash_looping());
    EXPECT_FALSE(check.image_pull_failing());
}

TEST(PodsParse, HealthyPodIsReady) {
    const auto check = with_pods({only_pod(kHealthy, "Running", true)});
    EXPECT_TRUE(check.pods[0].ready);
    EXPECT_EQ(check.ready(), 1);
    EXPECT_FALSE(check.crash_looping());
    EXPECT_FALSE(check.oom_killed());
}

TEST(PodsParse, UnschedulablePendingPodWithoutContainerStatuses) {
    const auto check = parse_pods("backend", list({std::string(kUnschedulable)}), kNewHash);
    ASSERT_EQ(check.pods.size(), 1u);
    EXPECT_EQ(check.pods[0], pod_state("backend-7d9c6b5f4-p3nd1", "Pending"));
}

TEST(PodsParse, PodsOfAnOldReplicaSetAreIgnored) {
    const auto json = list({pod("backend-6b8f7c9d2-a1b2c", kOldHash, "Running", true, kHealthy),
                            pod("backend-7d9c6b5f4-x2k8p", kNewHash, "Running", false, kCrashLoop),
                            pod("backend-6b8f7c9d2-d3e4f", kOldHash, "Running", true, kHealthy)});

    const auto check = parse_pods("backend", json, kNewHash);

    EXPECT_EQ(check.deployment, "backend");
    ASSERT_EQ(check.pods.size(), 1u);
    EXPECT_EQ(check.pods[0].name, "backend-7d9c6b5f4-x2k8p");
    EXPECT_EQ(check.ready(), 0);
}

TEST(PodsParse, EmptyHashKeepsEveryPod) {
    const auto json =
        list({pod("backend-6b8f7c9d2-a1b2c", kOldHash, "Running", true, kHealthy),
              pod("backend-7d9c6b5f4-x2k8p", kNewHash, "Running", false, kCrashLoop)});

    const auto check = parse_pods("backend", json, "");

    ASSERT_EQ(check.pods.size(), 2u);
    EXPECT_EQ(check.ready(), 1);
}

TEST(PodsParse, RestartsAreSummedOverContainersAndInitContainers) {
    const std::string statuses =
        R"([{"name":"backend","ready":false,"restartCount":2,"state":{"running":{}}},)"
        R"({"name":"proxy","ready":true,"restartCount":5,"state":{"running":{}}}])";
    std::string json = pod("backend-7d9c6b5f4-x2k8p", kNewHash, "Running", false, statuses);
    const std::string init =
        R"("initContainerStatuses":[{"name":"migrate","ready":true,"restartCount":1,)"
        R"("state":{"terminated":{"exitCode":0,"reason":"Completed"}}}],"containerStatuses")";
    json.replace(json.find(R"("containerStatuses")"), 19, init);

    const auto p = parse_pods("backend", list({json}), kNewHash).pods.at(0);

    EXPECT_EQ(p.restarts, 8);
    EXPECT_EQ(p.last_terminated_reason, "");  // a finished init container is no news
}

TEST(PodsParse, FailureReasonWinsOverAStartingSidecar) {
    const std::string statuses =
        R"([{"name":"proxy","ready":false,"restartCount":0,"state":{"waiting":{"reason":"ContainerCreating"}}},)"
        R"({"name":"backend","ready":false,"restartCount":0,"state":{"waiting":{"reason":"InvalidImageName"}}}])";
    const auto check = with_pods({only_pod(statuses, "Pending")});
    EXPECT_EQ(check.pods[0].waiting_reason, "InvalidImageName");
    EXPECT_TRUE(check.image_pull_failing());
}

TEST(PodsParse, OomKilledRightNowCountsBeforeTheRestart) {
    const std::string statuses =
        R"([{"name":"backend","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":137,"reason":"OOMKilled"}},"lastState":{}}])";
    EXPECT_EQ(only_pod(statuses).last_terminated_reason, "OOMKilled");
}

TEST(PodsParse, WithoutConditionsReadyMeansEveryContainerReady) {
    const std::string json =
        R"({"kind":"List","items":[{"metadata":{"name":"a"},"status":{"containerStatuses":[{"ready":true},{"ready":true}]}},)"
        R"({"metadata":{"name":"b"},"status":{"containerStatuses":[{"ready":true},{"ready":false}]}}]})";
    const auto check = parse_pods("backend", json, "");
    ASSERT_EQ(check.pods.size(), 2u);
    EXPECT_TRUE(check.pods[0].ready);
    EXPECT_FALSE(check.pods[1].ready);
}

TEST(PodsParse, MissingAndMistypedFieldsNeverCrash) {
    const std::string json =
        R"({"kind":"List","items":[7,null,{},{"metadata":[]},{"metadata":{"name":5,"labels":null}},)"
        R"({"metadata":{"name":"x"},"status":{"phase":3,"conditions":{},"containerStatuses":[1,{"restartCount":"4",)"
        R"("state":{"waiting":"CrashLoopBackOff"},"lastState":{"terminated":[]}},{"state":null}]}}]})";

    const auto check = parse_pods("backend", json, "");

    EXPECT_EQ(check.error, "");
    ASSERT_EQ(check.pods.size(), 6u);
    EXPECT_EQ(check.pods[5], pod_state("x", ""));
    EXPECT_FALSE(check.crash_looping());
    EXPECT_EQ(parse_pods("backend", json, kNewHash).pods.size(), 0u);
}

TEST(PodsParse, NotJsonIsAnError) {
    for (const std::string_view bad :
         {"", "Unable to connect to the server", "[]", "{\"items\":3}"}) {
        const auto check = parse_pods("backend", bad, kNewHash);
        EXPECT_EQ(check.error, "kubectl get pods: the output is not a JSON list of pods") << bad;
        EXPECT_TRUE(check.pods.empty());
    }
}

TEST(PodsParse, EmptyListIsNoPodsAndNoError) {
    const auto check = parse_pods("backend", list({}), kNewHash);
    PodsCheck expected;
    expected.deployment = "backend";
    EXPECT_EQ(check, expected);
}

TEST(PodsCheckVerdict, RestartsAloneMeanCrashLooping) {
    // The first crash shows as restartCount 1 before CrashLoopBackOff appears (reference §7).
    const auto check = with_pods({pod_state("", "Running", true, 1)});
    EXPECT_TRUE(check.crash_looping());
}

TEST(PodsCheckVerdict, NoPodsIsNothingWrongAndNoneReady) {
    const PodsCheck check;
    EXPECT_FALSE(check.crash_looping());
    EXPECT_FALSE(check.oom_killed());
    EXPECT_FALSE(check.image_pull_failing());
    EXPECT_EQ(check.ready(), 0);
}

TEST(PodsCheckVerdict, ReadyCountsOnlyReadyPods) {
    const auto check =
        with_pods({pod_state("a", "Running", true), PodState{}, pod_state("c", "Running", true)});
    EXPECT_EQ(check.ready(), 2);
}

// Events as `kubectl get events -n preskool -o json` lists them (reference §2).
std::string event(std::string_view type,
                  std::string_view reason,
                  std::string_view message,
                  std::string_view involved,
                  int count,
                  std::string_view last) {
    return fmt::format(
        R"({{"apiVersion":"v1","kind":"Event","metadata":{{"name":"{3}.18c2","namespace":"preskool",)"
        R"("creationTimestamp":"2025-05-02T14:00:03Z"}},"type":"{0}","reason":"{1}","message":"{2}",)"
        R"("involvedObject":{{"apiVersion":"v1","kind":"Pod","name":"{3}","namespace":"preskool",)"
        R"("fieldPath":"spec.containers{{backend}}"}},"source":{{"component":"kubelet","host":"node-1"}},)"
        R"("reportingComponent":"kubelet","count":{4},"firstTimestamp":"2025-05-02T14:00:03Z",)"
        R"("lastTimestamp":"{5}","eventTime":null}})",
        type,
        reason,
        message,
        involved,
        count,
        last);
}

const std::string kPodA = "backend-7d9c6b5f4-x2k8p";
const std::string kPodOld = "backend-6b8f7c9d2-a1b2c";

TEST(EventsParse, WarningsAboutTheReplicaSetsPodsNewestFirst) {
    const auto json = list({event("Warning",
                                  "Unhealthy",
                                  "Readiness probe failed: HTTP probe failed with statuscode: 503",
                                  kPodA,
                                  40,
                                  "2025-05-02T14:01:00Z"),
                            event("Warning",
                                  "BackOff",
                                  "Back-off restarting failed container backend in pod "
                                  "backend-7d9c6b5f4-x2k8p_preskool(5c1f1e0a)",
                                  kPodA,
                                  12,
                                  "2025-05-02T14:04:30Z"),
                            event("Normal",
                                  "Pulled",
                                  "Container image already present on machine",
                                  kPodA,
                                  5,
                                  "2025-05-02T14:04:40Z"),
                            event("Warning",
                                  "Unhealthy",
                                  "Liveness probe failed: connection refused",
                                  kPodOld,
                                  3,
                                  "2025-05-02T14:05:00Z")});

    EXPECT_EQ(
        parse_warning_events(json, "backend-7d9c6b5f4"),
        (std::vector<std::string>{
            "BackOff: Back-off restarting failed container backend in pod "
            "backend-7d9c6b5f4-x2k8p_preskool(5c1f1e0a) (x12)",
            "Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503 (x40)"}));
}

TEST(EventsParse, SingleOccurrenceHasNoMultiplier) {
    const auto json =
        list({event("Warning", "Failed", "Error: ErrImagePull", kPodA, 1, "2025-05-02T14:01:00Z")});
    EXPECT_EQ(parse_warning_events(json, "backend-"),
              (std::vector<std::string>{"Failed: Error: ErrImagePull"}));
}

TEST(EventsParse, IdenticalWarningsFromSeveralPodsAreMerged) {
    const std::string probe = "Readiness probe failed: HTTP probe failed with statuscode: 503";
    const auto json = list(
        {event("Warning", "Unhealthy", probe, kPodA, 4, "2025-05-02T14:01:00Z"),
         event(
             "Warning", "Unhealthy", probe, "backend-7d9c6b5f4-m4n5b", 6, "2025-05-02T14:02:00Z")});
    EXPECT_EQ(parse_warning_events(json, "backend-7d9c6b5f4"),
              (std::vector<std::string>{"Unhealthy: " + probe + " (x10)"}));
}

TEST(EventsParse, AtMostTen) {
    std::vector<std::string> events;
    for (int i = 0; i < 15; ++i) {
        events.push_back(event("Warning",
                               "Failed",
                               fmt::format("failure {:02}", i),
                               kPodA,
                               1,
                               fmt::format("2025-05-02T14:{:02}:00Z", i)));
    }
    const auto warnings = parse_warning_events(list(events), kPodA);
    ASSERT_EQ(warnings.size(), 10u);
    EXPECT_EQ(warnings.front(), "Failed: failure 14");
    EXPECT_EQ(warnings.back(), "Failed: failure 05");
}

TEST(EventsParse, EventsApiSeriesCountAndEventTimeAreRead) {
    // Written through events.k8s.io/v1: lastTimestamp null, count absent, series instead.
    const std::string newer =
        R"({"kind":"Event","type":"Warning","reason":"BackOff","message":"Back-off pulling image \"x\"",)"
        R"("involvedObject":{"kind":"Pod","name":"backend-7d9c6b5f4-x2k8p"},"lastTimestamp":null,)"
        R"("eventTime":"2025-05-02T14:09:00.123456Z","series":{"count":9,"lastObservedTime":"2025-05-02T14:09:00.123456Z"}})";
    const auto json = list(
        {newer,
         event("Warning", "Failed", "Error: ImagePullBackOff", kPodA, 2, "2025-05-02T14:08:59Z")});
    EXPECT_EQ(parse_warning_events(json, kPodA),
              (std::vector<std::string>{"BackOff: Back-off pulling image \"x\" (x9)",
                                        "Failed: Error: ImagePullBackOff (x2)"}));
}

TEST(EventsParse, BadJsonAndOddShapesAreNoWarnings) {
    EXPECT_TRUE(parse_warning_events("", "backend").empty());
    EXPECT_TRUE(parse_warning_events("error: You must be logged in", "backend").empty());
    EXPECT_TRUE(
        parse_warning_events(
            R"({"items":[1,{"type":"Warning"},{"type":"Warning","involvedObject":[]}]})", "backend")
            .empty());
}

std::string replicaset(std::string_view deployment, std::string_view hash, int revision) {
    return fmt::format(
        R"({{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{{"name":"{0}-{1}","namespace":"preskool",)"
        R"("labels":{{"app":"{0}","pod-template-hash":"{1}"}},"annotations":{{)"
        R"("deployment.kubernetes.io/desired-replicas":"2","deployment.kubernetes.io/max-replicas":"3",)"
        R"("deployment.kubernetes.io/revision":"{2}"}},"ownerReferences":[{{"apiVersion":"apps/v1",)"
        R"("kind":"Deployment","name":"{0}","uid":"d1","controller":true,"blockOwnerDeletion":true}}]}},)"
        R"("spec":{{"replicas":2}},"status":{{"replicas":2,"observedGeneration":1}}}})",
        deployment,
        hash,
        revision);
}

TEST(ReplicaSetHash, PicksTheReplicaSetWithTheRevision) {
    const auto json = list({replicaset("backend", "5f6d7c8b9", 1),
                            replicaset("backend", kOldHash, 2),
                            replicaset("backend", kNewHash, 4)});
    EXPECT_EQ(current_replicaset_hash(json, "backend", 4), kNewHash);
    EXPECT_EQ(current_replicaset_hash(json, "backend", 2), kOldHash);
}

TEST(ReplicaSetHash, ReplicaSetsOfOtherDeploymentsAreIgnored) {
    const auto json = list({replicaset("frontend", "1a2b3c4d", 4),
                            replicaset("backend-worker", "99aa", 4),
                            replicaset("backend", kNewHash, 4)});
    EXPECT_EQ(current_replicaset_hash(json, "backend", 4), kNewHash);
}

TEST(ReplicaSetHash, UnknownRevisionIsEmpty) {
    const auto json = list({replicaset("backend", kNewHash, 4)});
    EXPECT_EQ(current_replicaset_hash(json, "backend", 3), "");
}

TEST(ReplicaSetHash, MissingHashLabelFallsBackToTheName) {
    const std::string json =
        R"({"kind":"List","items":[{"metadata":{"name":"backend-7d9c6b5f4","annotations":{"deployment.kubernetes.io/revision":"4"}}}]})";
    EXPECT_EQ(current_replicaset_hash(json, "backend", 4), kNewHash);
}

TEST(ReplicaSetHash, BadJsonIsEmpty) {
    EXPECT_EQ(current_replicaset_hash("", "backend", 1), "");
    EXPECT_EQ(current_replicaset_hash(R"({"items":[null,{"metadata":7}]})", "backend", 1), "");
}

// The fake kubectl (test/fakes) renders pods, ReplicaSets and events like the API server; the
// parsers must read exactly that.
class PodsFromFakeKubectl : public ::testing::Test {
protected:
    std::string kubectl(const std::string& args) const {
        const std::string command = fmt::format("KUBECONFIG='{}' '{}/kubectl' {} 2>/dev/null",
                                                dir_.file("cluster.json").string(),
                                                ROLLBOT_FAKES_DIR,
                                                args);
        std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
        std::string out;
        std::array<char, 4096> buf{};
        for (std::size_t n = 0; pipe && (n = fread(buf.data(), 1, buf.size(), pipe.get())) > 0;) {
            out.append(buf.data(), n);
        }
        return out;
    }

    rollbot::test::TempDir dir_;
};

TEST_F(PodsFromFakeKubectl, OomKilledNewReplicaSetReadsAsTheFakeRendersIt) {
    dir_.write("cluster.json", R"({"bad_images":{"e4d5c6b7":"oomkilled"}})");

    const auto hash = current_replicaset_hash(kubectl("get rs -n preskool -o json"), "backend", 3);
    ASSERT_FALSE(hash.empty());
    const auto check =
        parse_pods("backend", kubectl("get pods -n preskool -l app=backend -o json"), hash);
    const auto warnings =
        parse_warning_events(kubectl("get events -n preskool -o json"), "backend-" + hash);

    EXPECT_EQ(check.error, "");
    ASSERT_EQ(check.pods.size(), 1u);
    EXPECT_TRUE(check.pods[0].name.starts_with("backend-" + hash + "-"));
    EXPECT_EQ(check.pods[0].phase, "Running");
    EXPECT_EQ(check.pods[0].restarts, 3);
    EXPECT_EQ(check.pods[0].waiting_reason, "CrashLoopBackOff");
    EXPECT_TRUE(check.oom_killed());
    EXPECT_TRUE(check.crash_looping());
    EXPECT_EQ(check.ready(), 0);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_TRUE(warnings[0].starts_with("BackOff: Back-off restarting failed container backend"))
        << warnings[0];
    EXPECT_TRUE(warnings[0].ends_with(" (x12)")) << warnings[0];
}

TEST_F(PodsFromFakeKubectl, ImagePullNewReplicaSetReadsAsTheFakeRendersIt) {
    dir_.write("cluster.json", R"({"bad_images":{"e4d5c6b7":"imagepull"}})");

    const auto hash = current_replicaset_hash(kubectl("get rs -n preskool -o json"), "backend", 3);
    const auto check =
        parse_pods("backend", kubectl("get pods -n preskool -l app=backend -o json"), hash);
    const auto warnings =
        parse_warning_events(kubectl("get events -n preskool -o json"), "backend-" + hash);

    ASSERT_EQ(check.pods.size(), 1u);
    EXPECT_EQ(check.pods[0].phase, "Pending");
    EXPECT_TRUE(check.image_pull_failing());
    EXPECT_FALSE(check.crash_looping());
    EXPECT_EQ(warnings.size(), 4u);
}

TEST_F(PodsFromFakeKubectl, HealthyDeploymentHasReadyPodsAndNoWarnings) {
    dir_.write("cluster.json", "{}");

    const auto hash = current_replicaset_hash(kubectl("get rs -n preskool -o json"), "backend", 3);
    const auto check =
        parse_pods("backend", kubectl("get pods -n preskool -l app=backend -o json"), hash);

    ASSERT_FALSE(check.pods.empty());
    EXPECT_EQ(check.ready(), static_cast<int>(check.pods.size()));
    EXPECT_FALSE(check.crash_looping());
    EXPECT_TRUE(
        parse_warning_events(kubectl("get events -n preskool -o json"), "backend-").empty());
}

}  // namespace
