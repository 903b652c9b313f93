#include "bot/records.hpp"

namespace rollbot::core {

std::string_view to_string(AuditKind kind) {
    switch (kind) {
        case AuditKind::Request:
            return "request";
        case AuditKind::Refused:
            return "refused";
        case AuditKind::Reaction:
            return "reaction";
        case AuditKind::Approval:
            return "approval";
        case AuditKind::Cancel:
            return "cancel";
        case AuditKind::Step:
            return "step";
        case AuditKind::Report:
            return "report";
        case AuditKind::Interrupted:
            return "interrupted";
        case AuditKind::Shutdown:
            return "shutdown";
        case AuditKind::Watch:
            return "watch";
    }
    return "unknown";
}

}  // namespace rollbot::core
