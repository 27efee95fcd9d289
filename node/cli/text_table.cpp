#include "cli/text_table.hpp"

#include <algorithm>

namespace annal::cli {

namespace {

// Display width: counts UTF-8 code points, not bytes.
std::size_t display_width(const std::string& text) {
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

}  // namespace

void TextTable::print(std::ostream& out) const {
    std::vector<std::size_t> widths(headers_.size(), 0);
    for (std::size_t i = 0; i < headers_.size(); ++i) {
        widths[i] = display_width(headers_[i]);
    }
    for (const auto& row : rows_) {
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
            widths[i] = std::max(widths[i], display_width(row[i]));
        }
    }
    const auto print_row = [&](const std::vector<std::string>& cells) {
        std::string line;
        for (std::size_t i = 0; i < widths.size(); ++i) {
            const std::string cell = i < cells.size() ? cells[i] : std::string();
            line += cell;
            if (i + 1 < widths.size()) {
                line.append(widths[i] - display_width(cell) + 2, ' ');
            }
        }
        while (!line.empty() && line.back() == ' ') {
            line.pop_back();
        }
        out << line << '\n';
    };
    print_row(headers_);
    for (const auto& row : rows_) {
        print_row(row);
    }
}

std::string abbreviate(const std::string& text, std::size_t width) {
    const bool fits = display_width(text) <= width;
    const std::size_t keep = fits ? width : (width > 3 ? width - 3 : 0);
    std::string flat;
    std::size_t points = 0;
    for (const char c : text) {
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80 && points++ == keep) {
            break;
        }
        flat += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    }
    if (!fits) {
        flat += "...";
    }
    return flat;
}

}  // namespace annal::cli
