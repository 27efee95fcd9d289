// Prometheus rendering of the store's microsecond histograms (no sockets).
#include <doctest/doctest.h>

#include <string>

#include "api/metrics.hpp"
#include "storage/event_store.hpp"
#include "storage/histogram.hpp"

using namespace annal::api;

TEST_CASE("microsecond histograms render as cumulative seconds buckets") {
    annal::storage::AtomicHistogram recorder;
    recorder.record(10);          // <= 16 us
    recorder.record(1000);        // <= 1024 us
    recorder.record(20'000'000);  // 20 s: past the last bucket shown, counted in +Inf
    std::string out;
    render_microseconds_histogram(recorder.snapshot(), "annal_test_seconds", "A test.", out);

    CHECK(out.find("# HELP annal_test_seconds A test.\n") != std::string::npos);
    CHECK(out.find("# TYPE annal_test_seconds histogram\n") != std::string::npos);
    CHECK(out.find("annal_test_seconds_bucket{le=\"1.6e-05\"} 1\n") != std::string::npos);
    CHECK(out.find("annal_test_seconds_bucket{le=\"0.000512\"} 1\n") != std::string::npos);
    CHECK(out.find("annal_test_seconds_bucket{le=\"0.001024\"} 2\n") != std::string::npos);
    CHECK(out.find("annal_test_seconds_bucket{le=\"8.388608\"} 2\n") != std::string::npos);
    CHECK(out.find("annal_test_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
    CHECK(out.find("annal_test_seconds_sum 20.00101\n") != std::string::npos);
    CHECK(out.find("annal_test_seconds_count 3\n") != std::string::npos);
    // Below 16 us nothing is shown: every scrape has the same 20 finite buckets.
    CHECK(out.find("le=\"8e-06\"") == std::string::npos);
    std::size_t buckets = 0;
    for (std::size_t at = out.find("_bucket{"); at != std::string::npos;
         at = out.find("_bucket{", at + 1)) {
        ++buckets;
    }
    CHECK(buckets == 21);
}
