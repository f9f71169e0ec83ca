# install_check.cmake: `make install` puts the binary, the plugin ABI
# (include/forkpool/plugin.h), the man pages and the bash completion, and
# nothing internal. Run by ctest as
#   cmake -DBUILD_DIR=... -DPREFIX=... -P install_check.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
file(GLOB_RECURSE installed RELATIVE "${PREFIX}" "${PREFIX}/*")
list(SORT installed)
set(expected "bin/forkpool;include/forkpool/plugin.h;share/bash-completion/completions/forkpool"
             "share/man/man1/forkpool.1;share/man/man5/forkpool.toml.5")
file(REMOVE_RECURSE "${PREFIX}")
if(NOT installed STREQUAL expected)
  message(FATAL_ERROR "installed: ${installed}\nexpected: ${expected}")
endif()
message(STATUS "installed exactly: ${installed}")
