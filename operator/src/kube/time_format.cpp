#include "kube/time_format.hpp"

#include <cstdio>
#include <ctime>

namespace annal::kube {
namespace {

std::tm to_utc(std::chrono::system_clock::time_point t) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    return utc;
}

}  // namespace

std::string format_time(std::chrono::system_clock::time_point t) {
    const std::tm utc = to_utc(t);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return buf;
}

std::string format_micro_time(std::chrono::system_clock::time_point t) {
    const std::tm utc = to_utc(t);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &utc);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() %
        1000000;
    char buf[48];
    std::snprintf(buf, sizeof buf, "%s.%06lldZ", date, static_cast<long long>(micros));
    return buf;
}

}  // namespace annal::kube
