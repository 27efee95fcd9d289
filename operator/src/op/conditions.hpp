// status.conditions as the API conventions want them: keyed by type, CamelCase reasons,
// lastTransitionTime moving only when the status value changes.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace annal::op {

struct Condition {
    std::string type;
    std::string status;  // True, False, Unknown
    std::string reason;  // CamelCase
    std::string message;
    std::int64_t observed_generation = 0;
};

// Returns `conditions` (a JSON array, possibly null) with `condition` set. `now` is used as
// lastTransitionTime only if the type is new or its status changed.
nlohmann::json set_condition(const nlohmann::json& conditions, const Condition& condition,
                             const std::string& now);

// The condition of `type` in a conditions array, or null.
nlohmann::json find_condition(const nlohmann::json& conditions, const std::string& type);

}  // namespace annal::op
