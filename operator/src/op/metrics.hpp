// Process-wide counters and gauges, rendered in the Prometheus text format for /metrics.
#pragma once

#include <map>
#include <mutex>
#include <string>

namespace annal::op {

class Metrics {
  public:
    // `series` is a metric name with optional labels: name{k="v"}.
    void add(const std::string& series, double delta = 1);
    void set(const std::string& series, double value);
    double value(const std::string& series) const;
    std::string render() const;

  private:
    mutable std::mutex mutex_;
    std::map<std::string, double> values_;
};

Metrics& metrics();

}  // namespace annal::op
