// Helpers shared by the replication tests.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "raft/ready.hpp"
#include "raft/types.hpp"
#include "replication/raft_log_store.hpp"

namespace annal::replication::test {

// A fresh directory under the system temp dir, removed with its contents at destruction.
class TempDir {
  public:
    TempDir() {
        std::random_device seed;
        path_ = std::filesystem::temp_directory_path() /
                ("annal-repl-" + std::to_string(seed()) + "-" + std::to_string(seed()));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string str() const { return path_.string(); }

  private:
    std::filesystem::path path_;
};

inline std::unique_ptr<RaftLogStore> open_log(const std::string& directory, bool durable = true,
                                              std::size_t compaction_step = 1024,
                                              std::uint64_t initial_map_bytes = 1ull << 20) {
    LogStoreOptions options;
    options.directory = directory;
    options.durable = durable;
    options.compaction_step_entries = compaction_step;
    options.initial_map_bytes = initial_map_bytes;
    std::string error;
    auto store = RaftLogStore::open(options, error);
    if (!store) {
        throw std::runtime_error(error);
    }
    return store;
}

inline raft::Entry entry(raft::Index index, raft::Term term, std::string data = {}) {
    if (data.empty()) {
        data = "payload-" + std::to_string(index) + "-" + std::to_string(term);
    }
    return raft::Entry{term, index, raft::EntryType::Normal, std::move(data)};
}

inline const raft::Membership kThree{{1, 2, 3}, {}};

inline raft::Ready ready_with(std::vector<raft::Entry> entries,
                              std::optional<raft::HardState> hard_state = std::nullopt) {
    raft::Ready ready;
    ready.entries = std::move(entries);
    ready.hard_state = hard_state;
    return ready;
}

// Entries from..to (inclusive) of one term; data_bytes > 0: payloads of that size.
inline std::vector<raft::Entry> make_entries(raft::Index from, raft::Index to, raft::Term term,
                                             std::size_t data_bytes = 0) {
    std::vector<raft::Entry> out;
    for (raft::Index i = from; i <= to; ++i) {
        out.push_back(
            data_bytes == 0
                ? entry(i, term)
                : entry(i, term, std::string(data_bytes, static_cast<char>('a' + i % 26))));
    }
    return out;
}

}  // namespace annal::replication::test
