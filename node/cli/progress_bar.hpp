// A progress bar for long operations, drawn on stderr only when stderr is a terminal
// (so pipes and logs stay clean). Redraws at most ten times a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace annal::cli {

class ProgressBar {
  public:
    // `total` 0 means unknown: the bar shows the count and rate only.
    ProgressBar(std::string label, std::uint64_t total);
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;
    ~ProgressBar();

    void update(std::uint64_t done);
    void finish();  // draws the final state and ends the line

  private:
    void draw(std::uint64_t done);

    std::string label_;
    std::uint64_t total_;
    bool enabled_;
    bool finished_ = false;
    std::uint64_t last_done_ = 0;
    std::chrono::steady_clock::time_point started_;
    std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace annal::cli
