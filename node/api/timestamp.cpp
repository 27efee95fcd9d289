#include "api/timestamp.hpp"

#include <charconv>
#include <chrono>

namespace annal::api {
namespace {

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kSecondsPerDay = 86'400;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
    year -= month <= 2 ? 1 : 0;
    const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
    const auto year_of_era = static_cast<unsigned>(year - era * 400);
    const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    const unsigned day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

struct CivilDate {
    std::int64_t year;
    unsigned month;
    unsigned day;
};

CivilDate civil_from_days(std::int64_t days) {
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const auto day_of_era = static_cast<unsigned>(days - era * 146097);
    const unsigned year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    const unsigned day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const unsigned mp = (5 * day_of_year + 2) / 153;
    const unsigned day = day_of_year - (153 * mp + 2) / 5 + 1;
    const unsigned month = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t year =
        static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0);
    return {year, month, day};
}

bool is_leap(std::int64_t year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

unsigned days_in_month(std::int64_t year, unsigned month) {
    static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

// Reads exactly `count` decimal digits at `pos`.
bool read_digits(std::string_view text, std::size_t pos, std::size_t count, unsigned& value) {
    if (pos + count > text.size()) {
        return false;
    }
    value = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        value = value * 10 + static_cast<unsigned>(text[i] - '0');
    }
    return true;
}

void append_padded(unsigned value, int width, std::string& out) {
    char digits[16];
    int length = 0;
    do {
        digits[length++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value > 0 && length < 16);
    for (int i = length; i < width; ++i) {
        out.push_back('0');
    }
    while (length > 0) {
        out.push_back(digits[--length]);
    }
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339_us(std::string_view text) {
    unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!read_digits(text, 0, 4, year) || text.size() < 20 || text[4] != '-' ||
        !read_digits(text, 5, 2, month) || text[7] != '-' || !read_digits(text, 8, 2, day) ||
        (text[10] != 'T' && text[10] != 't') || !read_digits(text, 11, 2, hour) ||
        text[13] != ':' || !read_digits(text, 14, 2, minute) || text[16] != ':' ||
        !read_digits(text, 17, 2, second)) {
        return std::nullopt;
    }
    // Leap seconds (60) are not representable in epoch microseconds; reject them rather
    // than silently moving the event.
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
        hour > 23 || minute > 59 || second > 59) {
        return std::nullopt;
    }
    std::size_t pos = 19;
    std::int64_t fraction_us = 0;
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        const std::size_t start = pos;
        std::int64_t scale = 100'000;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            fraction_us += (text[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
        if (pos == start) {
            return std::nullopt;
        }
    }
    if (pos >= text.size()) {
        return std::nullopt;
    }
    std::int64_t offset_seconds = 0;
    if (text[pos] == 'Z' || text[pos] == 'z') {
        ++pos;
    } else if (text[pos] == '+' || text[pos] == '-') {
        unsigned offset_hours = 0, offset_minutes = 0;
        if (!read_digits(text, pos + 1, 2, offset_hours) || pos + 3 >= text.size() ||
            text[pos + 3] != ':' || !read_digits(text, pos + 4, 2, offset_minutes) ||
            offset_hours > 23 || offset_minutes > 59) {
            return std::nullopt;
        }
        offset_seconds = static_cast<std::int64_t>(offset_hours * 3600 + offset_minutes * 60) *
                         (text[pos] == '-' ? -1 : 1);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != text.size()) {
        return std::nullopt;
    }
    const std::int64_t seconds = days_from_civil(year, month, day) * kSecondsPerDay + hour * 3600 +
                                 minute * 60 + second - offset_seconds;
    return seconds * kMicrosPerSecond + fraction_us;
}

std::optional<std::int64_t> parse_timestamp_param(std::string_view text) {
    if (text.empty()) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error == std::errc() && end == text.data() + text.size()) {
        if (value < kMinTimestampUs || value > kMaxTimestampUs) {
            return std::nullopt;
        }
        return value;
    }
    return parse_rfc3339_us(text);
}

void format_rfc3339_us_append(std::int64_t microseconds, std::string& out) {
    std::int64_t seconds = microseconds / kMicrosPerSecond;
    std::int64_t fraction = microseconds % kMicrosPerSecond;
    if (fraction < 0) {
        fraction += kMicrosPerSecond;
        --seconds;
    }
    std::int64_t days = seconds / kSecondsPerDay;
    std::int64_t second_of_day = seconds % kSecondsPerDay;
    if (second_of_day < 0) {
        second_of_day += kSecondsPerDay;
        --days;
    }
    const CivilDate date = civil_from_days(days);
    if (date.year < 0) {
        out.push_back('-');
    }
    append_padded(static_cast<unsigned>(date.year < 0 ? -date.year : date.year), 4, out);
    out.push_back('-');
    append_padded(date.month, 2, out);
    out.push_back('-');
    append_padded(date.day, 2, out);
    out.push_back('T');
    append_padded(static_cast<unsigned>(second_of_day / 3600), 2, out);
    out.push_back(':');
    append_padded(static_cast<unsigned>(second_of_day / 60 % 60), 2, out);
    out.push_back(':');
    append_padded(static_cast<unsigned>(second_of_day % 60), 2, out);
    out.push_back('.');
    append_padded(static_cast<unsigned>(fraction), 6, out);
    out.push_back('Z');
}

std::string format_rfc3339_us(std::int64_t microseconds) {
    std::string out;
    out.reserve(27);
    format_rfc3339_us_append(microseconds, out);
    return out;
}

std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace annal::api
