// Precompiled for every test: the standard library, nlohmann::json and GoogleTest.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include <gtest/gtest.h>
#include <gmock/gmock.h>
