#pragma once
// Run-time invariant checks (LogCabin style). A violated invariant means the Raft state can
// no longer be trusted, so the default handler prints the message and aborts. Tests that
// must observe a deliberately broken core from the outside turn the core's checks off
// (Config::check_invariants) rather than replacing this handler.

namespace annal::raft {

using InvariantHandler = void (*)(const char* file, int line, const char* message);

// Installs a process-wide handler (the default prints to stderr and calls std::abort).
void set_invariant_handler(InvariantHandler handler);
[[noreturn]] void invariant_failed(const char* file, int line, const char* message);

}  // namespace annal::raft

// Always checked: API misuse by the application (e.g. out-of-range storage reads).
#define ANNAL_RAFT_REQUIRE(cond, message)                                 \
    do {                                                                  \
        if (!(cond))                                                      \
            ::annal::raft::invariant_failed(__FILE__, __LINE__, message); \
    } while (false)
