# Test helpers. Every test carries labels: the module's gate (gate1..gate4), `gpu` when it needs
# a CUDA device. The `cpu` test preset runs everything not labelled `gpu`.
#
# A test that needs a GPU and finds none exits with 77, which CTest reports as SKIPPED
# (SKIP_RETURN_CODE), after printing the reason: it never passes without a device.
set(LLAMA_WORKER_SKIP_CODE 77)

# llama_worker_add_gtest(<name> SOURCES ... [LIBS ...] [LABELS ...] [GPU] [TIMEOUT s])
# One executable and one CTest test per module suite. GPU suites link gpu_test_main, which
# skips (77) when no device is present.
function(llama_worker_add_gtest name)
  cmake_parse_arguments(ARG "GPU" "TIMEOUT" "SOURCES;LIBS;LABELS;ENVIRONMENT" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE llama_worker_flags GTest::gtest ${ARG_LIBS})
  set(labels ${ARG_LABELS})
  if(ARG_GPU)
    target_link_libraries(${name} PRIVATE llama_worker_gpu_test_main)
    list(APPEND labels gpu)
  else()
    target_link_libraries(${name} PRIVATE GTest::gtest_main)
  endif()
  add_test(NAME ${name} COMMAND ${name} --gtest_color=no)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${labels}" TIMEOUT ${ARG_TIMEOUT}
    SKIP_RETURN_CODE ${LLAMA_WORKER_SKIP_CODE} ENVIRONMENT "${ARG_ENVIRONMENT}")
  if(ARG_GPU)
    # GPU suites measure free device memory (leak and budget checks): never two at once.
    set_tests_properties(${name} PROPERTIES RESOURCE_LOCK llama_worker_gpu_device)
  endif()
endfunction()

# llama_worker_add_command_test(<name> COMMAND exe args... [EXPECT_EXIT n]
#   [STDOUT_REGEX r] [STDERR_REGEX r] [STDERR_EMPTY] [LABELS ...])
# Runs a command and checks its exit status and output (cmake/RunAndCheck.cmake): unlike
# PASS_REGULAR_EXPRESSION, this checks the status and each stream separately.
function(llama_worker_add_command_test name)
  cmake_parse_arguments(ARG "STDERR_EMPTY" "EXPECT_EXIT;STDOUT_REGEX;STDERR_REGEX" "COMMAND;LABELS" ${ARGN})
  if(NOT DEFINED ARG_EXPECT_EXIT)
    set(ARG_EXPECT_EXIT 0)
  endif()
  list(JOIN ARG_COMMAND "@@" command_list)  # a list argument would be split by add_test
  add_test(NAME ${name} COMMAND ${CMAKE_COMMAND}
    "-DCOMMAND=${command_list}"
    "-DEXPECT_EXIT=${ARG_EXPECT_EXIT}"
    "-DSTDOUT_REGEX=${ARG_STDOUT_REGEX}"
    "-DSTDERR_REGEX=${ARG_STDERR_REGEX}"
    "-DSTDERR_EMPTY=${ARG_STDERR_EMPTY}"
    -P ${PROJECT_SOURCE_DIR}/cmake/RunAndCheck.cmake)
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 120)
endfunction()
