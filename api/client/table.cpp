#include "api/client/table.hpp"

#include <algorithm>
#include <stdexcept>

namespace ferry::client {
namespace {

std::vector<std::string> SplitLines(const std::string& cell) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    const std::size_t nl = cell.find('\n', start);
    lines.push_back(cell.substr(start, nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return lines;
}

std::string Border(const std::vector<std::size_t>& widths) {
  std::string line = "+";
  for (const std::size_t w : widths) line += std::string(w + 2, '-') + "+";
  return line + "\n";
}

// One logical row, which is as many terminal lines as its tallest cell.
std::string RenderRow(const std::vector<std::string>& cells, const std::vector<std::size_t>& widths,
                      const std::vector<Align>& aligns) {
  std::vector<std::vector<std::string>> lines;
  std::size_t height = 1;
  for (const std::string& cell : cells) {
    lines.push_back(SplitLines(cell));
    height = std::max(height, lines.back().size());
  }
  std::string out;
  for (std::size_t i = 0; i < height; ++i) {
    out += "|";
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::string text = i < lines[c].size() ? lines[c][i] : std::string();
      const std::string pad(widths[c] - DisplayWidth(text), ' ');
      out += " ";
      out += aligns[c] == Align::kRight ? pad + text : text + pad;
      out += " |";
    }
    out += "\n";
  }
  return out;
}

}  // namespace

std::size_t DisplayWidth(const std::string& s) {
  // UTF-8 continuation bytes look like 10xxxxxx; every other byte starts a code point.
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

Table::Table(std::vector<std::string> headers)
    : headers_(std::move(headers)), aligns_(headers_.size(), Align::kLeft) {}

void Table::SetAlign(std::size_t column, Align align) { aligns_.at(column) = align; }

void Table::AddRow(std::vector<std::string> cells) {
  if (cells.size() != headers_.size()) {
    throw std::invalid_argument("table row has " + std::to_string(cells.size()) +
                                " cells, header has " + std::to_string(headers_.size()));
  }
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<std::size_t> widths(headers_.size(), 0);
  auto widen = [&widths](const std::vector<std::string>& row) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      for (const std::string& line : SplitLines(row[c])) {
        widths[c] = std::max(widths[c], DisplayWidth(line));
      }
    }
  };
  widen(headers_);
  for (const auto& row : rows_) widen(row);

  const std::string border = Border(widths);
  // Headers are always left-aligned, as in the openstack CLI.
  std::string out =
      border + RenderRow(headers_, widths, std::vector<Align>(widths.size())) + border;
  for (const auto& row : rows_) out += RenderRow(row, widths, aligns_);
  return out + border;
}

}  // namespace ferry::client
