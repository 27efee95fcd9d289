#include "cli/progress_bar.hpp"

#include <unistd.h>

#include <cstdio>

namespace annal::cli {

ProgressBar::ProgressBar(std::string label, std::uint64_t total)
    : label_(std::move(label)),
      total_(total),
      enabled_(isatty(STDERR_FILENO) == 1),
      started_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
    finish();
}

void ProgressBar::update(std::uint64_t done) {
    last_done_ = done;
    const auto now = std::chrono::steady_clock::now();
    if (enabled_ && now - last_draw_ >= std::chrono::milliseconds(100)) {
        last_draw_ = now;
        draw(done);
    }
}

void ProgressBar::finish() {
    if (finished_) {
        return;
    }
    finished_ = true;
    if (enabled_) {
        draw(last_done_);
        std::fputc('\n', stderr);
    }
}

void ProgressBar::draw(std::uint64_t done) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
    constexpr int kWidth = 30;
    if (total_ > 0) {
        const double fraction =
            std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
        const int filled = static_cast<int>(fraction * kWidth);
        std::string bar(static_cast<std::size_t>(filled), '#');
        bar.append(static_cast<std::size_t>(kWidth - filled), ' ');
        std::fprintf(stderr, "\r%s [%s] %3d%% %llu/%llu  %.0f/s ", label_.c_str(), bar.c_str(),
                     static_cast<int>(fraction * 100), static_cast<unsigned long long>(done),
                     static_cast<unsigned long long>(total_), rate);
    } else {
        std::fprintf(stderr, "\r%s %llu  %.0f/s  %.1fs ", label_.c_str(),
                     static_cast<unsigned long long>(done), rate, seconds);
    }
    std::fflush(stderr);
}

}  // namespace annal::cli
