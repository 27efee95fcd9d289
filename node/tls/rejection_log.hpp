// Rate limit for log lines about refused connections: at most one line per remote address
// per interval, so a misconfigured peer that redials every 50 ms (or a scanner) cannot
// flood the log, while a new offender is still reported at once.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace annal::tls {

class RejectionLog {
  public:
    explicit RejectionLog(std::chrono::seconds interval = std::chrono::seconds(60))
        : interval_(interval) {}

    // Thread-safe. True when a line about `address` may be written now (and records it);
    // `suppressed` is how many were held back for it since its last line.
    bool should_log(const std::string& address, std::uint64_t& suppressed);

  private:
    struct Entry {
        std::chrono::steady_clock::time_point last_logged;
        std::uint64_t suppressed = 0;
    };
    const std::chrono::seconds interval_;
    std::mutex mutex_;
    std::map<std::string, Entry> entries_;
};

}  // namespace annal::tls
