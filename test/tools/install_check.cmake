# install_check.cmake: `make install` puts the binary, the plugin ABI
# (include/forkpool/plugin.h), the man pages, the bash completion and the
# Python package (lib/python3/dist-packages/forkpool, where Debian's python3
# looks), and nothing internal; the installed package imports. Run by ctest as
#   cmake -DSOURCE_DIR=... -DBUILD_DIR=... -DPREFIX=... -P install_check.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
file(GLOB_RECURSE installed RELATIVE "${PREFIX}" "${PREFIX}/*")
list(SORT installed)
# The Python modules are whatever python/forkpool holds (its helpers add
# modules), so the expected list names them from the sources, not by hand.
file(GLOB py_sources RELATIVE "${SOURCE_DIR}/python" "${SOURCE_DIR}/python/forkpool/*.py")
set(expected "bin/forkpool;include/forkpool/plugin.h")
foreach(py ${py_sources} forkpool/py.typed)
  list(APPEND expected "lib/python3/dist-packages/${py}")
endforeach()
list(APPEND expected "share/bash-completion/completions/forkpool"
                     "share/man/man1/forkpool.1;share/man/man5/forkpool.toml.5")
list(SORT expected)
if(NOT installed STREQUAL expected)
  file(REMOVE_RECURSE "${PREFIX}")
  message(FATAL_ERROR "installed: ${installed}\nexpected: ${expected}")
endif()
# The installed copy, not the source tree, is what python3 imports: the
# worker module (standard library only) and the package's own file.
execute_process(COMMAND "${CMAKE_COMMAND}" -E env
                        "PYTHONPATH=${PREFIX}/lib/python3/dist-packages" PYTHONDONTWRITEBYTECODE=1
                        /usr/bin/python3 -c
                        "import forkpool, forkpool.worker; print(forkpool.__file__)"
                WORKING_DIRECTORY "${PREFIX}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE where ERROR_VARIABLE err)
file(REMOVE_RECURSE "${PREFIX}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "import forkpool from the install tree failed (${rc}): ${err}")
endif()
string(STRIP "${where}" where)
if(NOT where STREQUAL "${PREFIX}/lib/python3/dist-packages/forkpool/__init__.py")
  message(FATAL_ERROR "forkpool imported from ${where}, not from the install tree")
endif()
message(STATUS "installed exactly: ${installed}; forkpool imports from ${where}")
