// Reading the scenario files of the behaviour tests (tests/workflow/scenarios,
// tests/supervision/scenarios): one command a line, `#` starting a comment, and the indented
// lines under a command as its block. Each runner gives the commands their meaning.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace onewindow::testing {

// The names of the files of `directory` ending in `extension` (".scenario"), sorted.
std::vector<std::string> files_with_extension(const std::filesystem::path& directory, const std::string& extension);

std::vector<std::string> words_of(const std::string& text);
std::string trim(const std::string& text);
// The lines, each indented by two spaces and ended: how blocks are compared and shown.
std::string indented(const std::vector<std::string>& lines);

// Calls `command` with the 1-based line number, the command and its block, for each command of
// the file in order, until it returns false. False (and a test failure) when the file cannot be read.
bool read_scenario(const std::filesystem::path& file,
                   const std::function<bool(int line, const std::string& command, const std::vector<std::string>& block)>&
                       command);

}  // namespace onewindow::testing
