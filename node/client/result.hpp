// The outcome of one client call: a value, or an Error saying what went wrong and where
// (transport, HTTP status with the server's error code, or an unreadable response).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace annal::client {

struct Error {
    enum class Kind : std::uint8_t {
        Transport,  // could not connect, timed out, connection dropped (http_status == 0)
        Http,       // the server answered with a non-2xx status and an error body
        Protocol,   // the server answered something this client cannot understand
    };
    Kind kind = Kind::Transport;
    int http_status = 0;
    std::string code;  // the server's snake_case code, or a client-side one
    std::string message;
    std::optional<std::uint64_t> current_version;  // only for wrong_expected_version

    // One line for humans: "409 wrong_expected_version: ... (current version 3)".
    std::string describe() const;
};

// Stands in for "no value" in Result<Done>.
struct Done {};

template <typename T>
class Result {
  public:
    Result(T value) : state_(std::move(value)) {}
    Result(Error error) : state_(std::move(error)) {}

    bool ok() const { return state_.index() == 0; }
    explicit operator bool() const { return ok(); }
    const T& value() const& { return std::get<0>(state_); }
    T& value() & { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    const Error& error() const { return std::get<1>(state_); }

  private:
    std::variant<T, Error> state_;
};

}  // namespace annal::client
