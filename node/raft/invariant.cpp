#include "raft/invariant.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace annal::raft {
namespace {

void default_handler(const char* file, int line, const char* message) {
    std::fprintf(stderr, "raft invariant violated at %s:%d: %s\n", file, line, message);
}

std::atomic<InvariantHandler> g_handler{&default_handler};

}  // namespace

void set_invariant_handler(InvariantHandler handler) {
    g_handler.store(handler != nullptr ? handler : &default_handler);
}

void invariant_failed(const char* file, int line, const char* message) {
    g_handler.load()(file, line, message);
    std::abort();
}

}  // namespace annal::raft
