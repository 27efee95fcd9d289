#include <doctest/doctest.h>

#include <fstream>

#include "storage/crc32c.hpp"
#include "storage/event_id.hpp"
#include "storage/histogram.hpp"
#include "storage/record_codec.hpp"
#include "store_fixture.hpp"

using namespace annal::storage;
using namespace annal::storage::test;

TEST_CASE("crc32c matches the published check values") {
    CHECK(crc32c("") == 0u);
    CHECK(crc32c("123456789") == 0xE3069283u);            // RFC 3720 / iSCSI check value
    CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAu);  // RFC 3720 B.4: 32 zero bytes
    CHECK(crc32c(std::string(32, '\xff')) == 0x62A8AB43u);
    const std::string text = "the quick brown fox jumps over the lazy dog, twice over";
    for (std::size_t split = 0; split <= text.size(); ++split) {
        const std::uint32_t first = crc32c_extend(0, text.data(), split);
        CHECK(crc32c_extend(first, text.data() + split, text.size() - split) == crc32c(text));
    }
}

TEST_CASE("crc32c: the CPU instruction path and the table path agree") {
    // Every length 0..300 at every alignment 0..7, continuing from several running CRCs, so
    // both the 8-byte loop and the byte tail are covered.
    std::string bytes(320, '\0');
    std::uint32_t seed = 12345;
    for (char& byte : bytes) {
        seed = seed * 1103515245u + 12345u;
        byte = static_cast<char>(seed >> 24);
    }
    for (std::uint32_t start : {0u, 1u, 0xE3069283u, 0xFFFFFFFFu}) {
        for (std::size_t offset = 0; offset < 8; ++offset) {
            for (std::size_t size = 0; size <= 300; ++size) {
                const char* data = bytes.data() + offset;
                REQUIRE(crc32c_extend(start, data, size) ==
                        crc32c_extend_portable(start, data, size));
            }
        }
    }
    CHECK(crc32c_extend_portable(0, "123456789", 9) == 0xE3069283u);
}

TEST_CASE("event ids convert between text and bytes") {
    const auto bytes = event_id_to_bytes("00112233-4455-6677-8899-AABBCCDDEEFF");
    REQUIRE(bytes.has_value());
    CHECK(bytes->size() == 16);
    CHECK(event_id_to_text(*bytes) == "00112233-4455-6677-8899-aabbccddeeff");
    CHECK_FALSE(event_id_to_bytes("00112233-4455-6677-8899-AABBCCDDEEF").has_value());
    CHECK_FALSE(event_id_to_bytes("00112233x4455-6677-8899-AABBCCDDEEFF").has_value());
    CHECK_FALSE(event_id_to_bytes("g0112233-4455-6677-8899-AABBCCDDEEFF").has_value());
}

TEST_CASE("histogram buckets are powers of two") {
    CHECK(AtomicHistogram::bucket_of(0) == 0);
    CHECK(AtomicHistogram::bucket_of(1) == 0);
    CHECK(AtomicHistogram::bucket_of(2) == 1);
    CHECK(AtomicHistogram::bucket_of(3) == 2);
    CHECK(AtomicHistogram::bucket_of(4) == 2);
    CHECK(AtomicHistogram::bucket_of(5) == 3);
    CHECK(AtomicHistogram::bucket_of(1ull << 30) == 30);
    CHECK(AtomicHistogram::bucket_of((1ull << 30) + 1) == Histogram::kBuckets - 1);
    CHECK(AtomicHistogram::bucket_of(~0ull) == Histogram::kBuckets - 1);
    AtomicHistogram histogram;
    histogram.record(3);
    histogram.record(4);
    histogram.record(100);
    const Histogram snapshot = histogram.snapshot();
    CHECK(snapshot.count == 3);
    CHECK(snapshot.sum == 107);
    CHECK(snapshot.buckets[2] == 2);
    CHECK(snapshot.buckets[7] == 1);
}

TEST_CASE("every flipped bit of a record is detected") {
    ProposedEvent event = make_event("Type", -5, R"({"k":"v"})");
    event.metadata = "meta";
    const std::string id = *event_id_to_bytes(event.id);
    std::string record;
    encode_record(record, 42, 7, 30, "stream", id, event);
    CHECK(record.size() == encoded_record_size(6, event));
    CHECK(static_cast<std::uint8_t>(record[0]) == kRecordFormatVersion);

    StoredEvent decoded;
    std::uint64_t previous = 0;
    REQUIRE(decode_record(42, record, decoded, &previous).status == DecodeStatus::Ok);
    CHECK(previous == 30);
    CHECK(decoded.position == 42);
    CHECK(decoded.version == 7);
    CHECK(decoded.stream == "stream");
    CHECK(decoded.type == "Type");
    CHECK(decoded.timestamp_us == -5);
    CHECK(decoded.id == event.id);
    CHECK(decoded.data == event.data);
    CHECK(decoded.metadata == "meta");

    // The same bytes under another position are not this record.
    CHECK(decode_record(43, record, decoded).status == DecodeStatus::Corrupt);
    for (std::size_t byte = 0; byte < record.size(); ++byte) {
        for (int bit = 0; bit < 8; ++bit) {
            std::string damaged = record;
            damaged[byte] = static_cast<char>(damaged[byte] ^ (1 << bit));
            StoredEvent untouched;
            const DecodeResult result = decode_record(42, damaged, untouched);
            CAPTURE(byte);
            CHECK(result.status == DecodeStatus::Corrupt);
            CHECK(untouched.stream.empty());  // nothing served from a damaged record
        }
    }
    CHECK(decode_record(42, record.substr(0, record.size() - 1), decoded).status ==
          DecodeStatus::Corrupt);
    CHECK(decode_record(42, record.substr(0, 10), decoded).status == DecodeStatus::Corrupt);
}

TEST_CASE("a corrupted byte in the data file is reported on read, never served") {
    TempDir dir;
    const StoreOptions options = test_options(dir.str());
    {
        auto store = open_store(options);
        for (int i = 1; i <= 3; ++i) {
            AppendRequest request;
            request.stream = "victim";
            request.events.push_back(make_event(
                "T", 100 + i, "{\"needle\":\"payload-number-" + std::to_string(i) + "\"}"));
            REQUIRE(append_sync(*store, request).status == AppendStatus::Ok);
        }
    }
    const auto data_file = dir.path() / "data.mdb";
    std::string bytes;
    {
        std::ifstream in(data_file, std::ios::binary);
        bytes.resize(std::filesystem::file_size(data_file));
        in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        REQUIRE(in.good());
    }
    const std::string needle = "payload-number-2";
    // Copy-on-write leaves stale copies of the page in free pages: damage every copy.
    std::size_t copies = 0;
    for (std::size_t at = bytes.find(needle); at != std::string::npos;
         at = bytes.find(needle, at + 1)) {
        bytes[at + 3] = static_cast<char>(bytes[at + 3] ^ 0x20);  // "payload" -> "paYload"
        ++copies;
    }
    REQUIRE(copies >= 1);
    {
        std::ofstream out(data_file, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }

    auto store = open_store(options);
    CHECK(store->head_position() == 3);
    const ReadResult all = store->read_all(1, Direction::Forwards, 10);
    CHECK(all.status == ReadStatus::Corrupt);
    CHECK(all.events.empty());
    CHECK(all.message.find("position 2") != std::string::npos);

    const ReadResult stream = store->read_stream("victim", 0, Direction::Forwards, 10);
    CHECK(stream.status == ReadStatus::Corrupt);
    CHECK(stream.events.empty());
    const ReadResult backwards = store->read_stream("victim", 2, Direction::Backwards, 10);
    CHECK(backwards.status == ReadStatus::Corrupt);
    const ReadResult time = store->read_time_range(0, 1000, 10);
    CHECK(time.status == ReadStatus::Corrupt);
    CHECK(time.message.find("position 2") != std::string::npos);

    // The intact neighbours are still served.
    const ReadResult first = store->read_all(1, Direction::Forwards, 1);
    REQUIRE(first.status == ReadStatus::Ok);
    CHECK(first.events.size() == 1);
    const ReadResult third = store->read_stream("victim", 2, Direction::Forwards, 10);
    REQUIRE(third.status == ReadStatus::Ok);
    CHECK(third.events.at(0).position == 3);
    CHECK(store->read_stream("victim", 1, Direction::Forwards, 10).status == ReadStatus::Corrupt);
    const ReadResult last = store->read_all(3, Direction::Forwards, 10);
    REQUIRE(last.status == ReadStatus::Ok);
    CHECK(last.events.at(0).data.find("payload-number-3") != std::string::npos);
}
