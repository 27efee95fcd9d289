// A table printed with aligned columns: the human output of `annal` commands.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

namespace annal::cli {

class TextTable {
  public:
    explicit TextTable(std::vector<std::string> headers) : headers_(std::move(headers)) {}

    void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
    bool empty() const { return rows_.empty(); }
    void print(std::ostream& out) const;

  private:
    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
};

// Cuts `text` to at most `width` characters (ending in "..."), never inside a UTF-8
// sequence, and replaces line breaks so one event stays on one line.
std::string abbreviate(const std::string& text, std::size_t width);

}  // namespace annal::cli
