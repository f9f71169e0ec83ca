# deb_strip.cmake: run by cpack (CPACK_PRE_BUILD_SCRIPTS) on the staged
# files before they are packed, after CPACK_STRIP_FILES's plain `strip`:
# removes the .comment and .note sections as Debian's dh_strip does (lintian:
# binary-has-unneeded-section). Set in cmake/packaging.cmake.
set(bin "${CPACK_TEMPORARY_INSTALL_DIRECTORY}${CPACK_PACKAGING_INSTALL_PREFIX}/bin/forkpool")
execute_process(COMMAND "${CPACK_FP_STRIP}" --remove-section=.comment --remove-section=.note "${bin}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "deb_strip.cmake: ${CPACK_FP_STRIP} on ${bin} failed: ${rc}")
endif()
