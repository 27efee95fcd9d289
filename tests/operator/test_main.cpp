// doctest main for the operator's unit tests. The operator logs JSON lines on stderr; here
// they are captured per test case and printed only for a test case that fails, so a
// passing run is quiet and a failing one still shows what the operator said.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "op/logger.hpp"

namespace {

class CapturedLog {
  public:
    void add(const std::string& line) {
        std::lock_guard lock(mutex_);
        lines_.push_back(line);
    }
    void clear() {
        std::lock_guard lock(mutex_);
        lines_.clear();
    }
    void print(const char* test_name) {
        std::lock_guard lock(mutex_);
        if (lines_.empty())
            return;
        std::fprintf(stderr, "---- operator log of failed test \"%s\" (%zu lines)\n", test_name,
                     lines_.size());
        for (const auto& line : lines_)
            std::fprintf(stderr, "%s\n", line.c_str());
        std::fflush(stderr);
    }

  private:
    std::mutex mutex_;
    std::vector<std::string> lines_;
};

CapturedLog& captured() {
    static CapturedLog log;
    return log;
}

// Only the two hooks it needs; the rest of the listener interface is empty.
class FailedTestLogPrinter final : public doctest::IReporter {
  public:
    explicit FailedTestLogPrinter(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_start(const doctest::TestCaseData& data) override {
        name_ = data.m_name;
        captured().clear();
    }
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
        if (!stats.testCaseSuccess)
            captured().print(name_.c_str());
        captured().clear();
    }
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}

  private:
    std::string name_;
};

}  // namespace

REGISTER_LISTENER("failed-test-log", 1, FailedTestLogPrinter);

int main(int argc, char** argv) {
    annal::op::log::set_sink([](const std::string& line) { captured().add(line); });
    doctest::Context context(argc, argv);
    const int result = context.run();
    annal::op::log::set_sink({});
    return result;
}
