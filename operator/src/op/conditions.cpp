#include "op/conditions.hpp"

namespace annal::op {

using nlohmann::json;

json find_condition(const json& conditions, const std::string& type) {
    if (!conditions.is_array())
        return json();
    for (const auto& c : conditions) {
        if (c.value("type", std::string()) == type)
            return c;
    }
    return json();
}

json set_condition(const json& conditions, const Condition& condition, const std::string& now) {
    json out = conditions.is_array() ? conditions : json::array();
    json updated = {{"type", condition.type},
                    {"status", condition.status},
                    {"reason", condition.reason},
                    {"message", condition.message},
                    {"observedGeneration", condition.observed_generation},
                    {"lastTransitionTime", now}};
    for (auto& existing : out) {
        if (existing.value("type", std::string()) != condition.type)
            continue;
        if (existing.value("status", std::string()) == condition.status &&
            existing.contains("lastTransitionTime")) {
            updated["lastTransitionTime"] = existing["lastTransitionTime"];
        }
        existing = updated;
        return out;
    }
    out.push_back(updated);
    return out;
}

}  // namespace annal::op
