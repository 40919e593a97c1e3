# onewindow_module(NAME SOURCES ... DEPENDS ...): one static library per module under src/NAME,
# named onewindow_NAME. Headers are included as "NAME/header.h" from src/.
function(onewindow_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  add_library(onewindow_${name} STATIC ${ARG_SOURCES})
  target_include_directories(onewindow_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(onewindow_${name} PUBLIC ${ARG_DEPENDS})
  target_precompile_headers(onewindow_${name} REUSE_FROM onewindow_pch)
endfunction()

# onewindow_test(NAME SOURCES ... DEPENDS ...): one GoogleTest executable, each test case a CTest test.
function(onewindow_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPENDS} onewindow_testing GTest::gtest_main GTest::gmock)
  target_precompile_headers(${name} REUSE_FROM onewindow_test_pch)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "ONEWINDOW_CONFIG_DIR=${PROJECT_SOURCE_DIR}/config")
endfunction()
