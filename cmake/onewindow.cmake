# onewindow_module(NAME DEPENDS ...): one static library per module, onewindow_NAME, built from
# every src/NAME/*.cpp. Headers are included as "NAME/header.h" from src/.
function(onewindow_module name)
  cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp)
  add_library(onewindow_${name} STATIC ${sources})
  target_include_directories(onewindow_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(onewindow_${name} PUBLIC ${ARG_DEPENDS})
  target_precompile_headers(onewindow_${name} REUSE_FROM onewindow_pch)
endfunction()

# onewindow_test(MODULE DEPENDS ...): one GoogleTest executable, MODULE_test, from every
# tests/MODULE/*.cpp; each test case is a CTest test.
function(onewindow_test module)
  cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${module}/*.cpp)
  add_executable(${module}_test ${sources})
  target_link_libraries(${module}_test PRIVATE ${ARG_DEPENDS} onewindow_testing GTest::gtest_main GTest::gmock)
  target_precompile_headers(${module}_test REUSE_FROM onewindow_test_pch)
  gtest_discover_tests(${module}_test DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "ONEWINDOW_CONFIG_DIR=${PROJECT_SOURCE_DIR}/config")
endfunction()
