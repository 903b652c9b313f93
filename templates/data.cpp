#include "templates/data.hpp"

#include <stdexcept>
#include <utility>

namespace rollbot::templates {

Data::Data(Value value) : value_(std::move(value)) {}

Data::Data(std::string text) : value_(std::move(text)) {}

Data::Data(const char* text) : value_(std::string(text)) {}

Data Data::object() {
    return Data{Value{Object{}}};
}

Data Data::list() {
    return Data{Value{List{}}};
}

void Data::set(std::string key, Data value) {
    auto* fields = std::get_if<Object>(&value_);
    if (fields == nullptr) {
        throw std::logic_error("template data: set(\"" + key +
                               "\") on a value that is not an object");
    }
    fields->insert_or_assign(std::move(key), std::move(value));
}

void Data::push_back(Data item) {
    auto* items = std::get_if<List>(&value_);
    if (items == nullptr) {
        throw std::logic_error("template data: push_back on a value that is not a list");
    }
    items->push_back(std::move(item));
}

}  // namespace rollbot::templates
