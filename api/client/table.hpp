#pragma once
// Plain-ASCII tables for ferryctl, in the layout operators know from the openstack and nova
// CLIs:
//
//   +----+------+
//   | ID | Name |
//   +----+------+
//   | 1  | web  |
//   +----+------+
//
// ASCII borders only, so output survives serial consoles, `less`, and log files. Widths count
// UTF-8 code points, not bytes, so a server named "café" does not shift the columns. A cell
// containing '\n' spans several lines (used for host lists and metadata in "show" tables).
#include <cstddef>
#include <string>
#include <vector>

namespace ferry::client {

enum class Align { kLeft, kRight };

class Table {
 public:
  explicit Table(std::vector<std::string> headers);

  // Numbers read better right-aligned; everything else stays left-aligned.
  void SetAlign(std::size_t column, Align align);
  // Throws std::invalid_argument when the row does not have one cell per header.
  void AddRow(std::vector<std::string> cells);
  std::size_t RowCount() const { return rows_.size(); }
  // The whole table, every line ending in '\n'. An empty table still shows its header, so
  // "no results" is visibly different from "command printed nothing".
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<Align> aligns_;
  std::vector<std::vector<std::string>> rows_;
};

// Width of `s` on a terminal, counting UTF-8 code points.
std::size_t DisplayWidth(const std::string& s);

}  // namespace ferry::client
