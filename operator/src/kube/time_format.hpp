// Timestamps in the formats the Kubernetes API uses.
#pragma once

#include <chrono>
#include <string>

namespace annal::kube {

// metav1.Time: RFC 3339 in UTC with second precision, e.g. 2024-05-01T12:00:00Z.
std::string format_time(std::chrono::system_clock::time_point t);
// metav1.MicroTime (Lease renewTime): microsecond precision, e.g. ...:00.000123Z.
std::string format_micro_time(std::chrono::system_clock::time_point t);

}  // namespace annal::kube
