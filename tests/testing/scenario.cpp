#include "scenario.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace onewindow::testing {

std::vector<std::string> files_with_extension(const std::filesystem::path& directory, const std::string& extension) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.path().extension() == extension) files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream stream(text);
  std::vector<std::string> words;
  for (std::string word; stream >> word;) words.push_back(word);
  return words;
}

std::string trim(const std::string& text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

std::string indented(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += "  " + line + "\n";
  return text;
}

bool read_scenario(const std::filesystem::path& file,
                   const std::function<bool(int line, const std::string& command, const std::vector<std::string>& block)>&
                       command) {
  std::ifstream input(file);
  if (!input) {
    ADD_FAILURE() << "cannot read " << file;
    return false;
  }
  std::vector<std::string> lines;
  for (std::string line; std::getline(input, line);) lines.push_back(line);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const int number = static_cast<int>(i + 1);
    std::string line = trim(lines[i]);
    if (line.empty() || line.starts_with("#")) continue;
    std::vector<std::string> block;
    while (i + 1 < lines.size() && (lines[i + 1].starts_with(" ") || lines[i + 1].starts_with("\t")) &&
           !trim(lines[i + 1]).empty()) {
      block.push_back(trim(lines[++i]));
    }
    if (!command(number, line, block)) return true;
  }
  return true;
}

}  // namespace onewindow::testing
