#include "op/metrics.hpp"

#include <cstdio>

namespace annal::op {

void Metrics::add(const std::string& series, double delta) {
    std::lock_guard lock(mutex_);
    values_[series] += delta;
}

void Metrics::set(const std::string& series, double value) {
    std::lock_guard lock(mutex_);
    values_[series] = value;
}

double Metrics::value(const std::string& series) const {
    std::lock_guard lock(mutex_);
    auto it = values_.find(series);
    return it == values_.end() ? 0 : it->second;
}

std::string Metrics::render() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& [series, value] : values_) {
        char number[64];
        std::snprintf(number, sizeof number, "%.17g", value);
        out += series + " " + number + "\n";
    }
    return out;
}

Metrics& metrics() {
    static Metrics instance;
    return instance;
}

}  // namespace annal::op
