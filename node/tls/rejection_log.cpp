#include "tls/rejection_log.hpp"

namespace annal::tls {

bool RejectionLog::should_log(const std::string& address, std::uint64_t& suppressed) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    // Forget addresses that have been quiet for a whole interval: the map stays as small
    // as the set of recent offenders.
    std::erase_if(entries_, [&](const auto& entry) {
        return now - entry.second.last_logged >= interval_ && entry.first != address;
    });
    const auto [found, inserted] = entries_.try_emplace(address, Entry{now, 0});
    if (inserted) {
        suppressed = 0;
        return true;
    }
    Entry& entry = found->second;
    if (now - entry.last_logged >= interval_) {
        suppressed = entry.suppressed;
        entry = Entry{now, 0};
        return true;
    }
    ++entry.suppressed;
    return false;
}

}  // namespace annal::tls
