# packaging.cmake: the Debian package (cpack -G DEB, run by
# scripts/build-deb.sh from a Release build; docs/packaging.md). Included by
# CMakeLists.txt after the install rules of the default component, which the
# package ships as they are, under /usr.
#
# What only a system package has (the systemd units, /etc/forkpool, the
# Debian copyright and changelog, gzipped man pages) is the component "deb",
# left out of a plain `cmake --install`: a /usr/local install must not write
# to /etc or /lib/systemd.

set(FP_DEB_RELEASE 1 CACHE STRING "Debian revision of the package (forkpool_VERSION-REVISION)")
set(fp_deb_dir ${CMAKE_BINARY_DIR}/deb)
set(fp_deb_src ${CMAKE_SOURCE_DIR}/contrib/debian)

# The shipped configuration is config.example.toml (every key at its
# default) with the ledger kept where the units' StateDirectory= gives the
# DynamicUser a writable directory; ProtectSystem=strict leaves it no other.
file(READ ${CMAKE_SOURCE_DIR}/config.example.toml fp_conf)
string(REGEX REPLACE "\n\\[ledger\\]\n(([^\n[]*\n)*)path = \"\"\n"
       "\n[ledger]\n\\1path = \"/var/lib/forkpool/ledger.db\"\n" fp_deb_conf "${fp_conf}")
if(fp_deb_conf STREQUAL fp_conf)
  message(FATAL_ERROR "packaging.cmake: no `path = \"\"` under [ledger] in config.example.toml")
endif()
# Its opening comment (up to the first blank line) speaks of the example
# file; this one says where it is and how to apply a change.
string(REGEX REPLACE "^#[^\n]*\n(#[^\n]*\n)*\n" "" fp_deb_body "${fp_deb_conf}")
if(fp_deb_body STREQUAL fp_deb_conf)
  message(FATAL_ERROR "packaging.cmake: config.example.toml does not open with a comment block")
endif()
string(CONCAT fp_deb_conf
  "# /etc/forkpool/forkpool.toml: the configuration forkpool.service runs\n"
  "# (forkpool@NAME.service reads /etc/forkpool/NAME.toml instead). Every\n"
  "# setting is at its default but ledger.path, in the service's state\n"
  "# directory /var/lib/forkpool. Durations are strings with units ms, s, m,\n"
  "# h, d (\"250ms\", \"1h30m\"); sizes are strings with B, KB, MB, GB, TB.\n"
  "# Unknown keys are errors. After an edit:\n"
  "#   forkpool check-config -c /etc/forkpool/forkpool.toml\n"
  "#   systemctl reload forkpool\n\n" "${fp_deb_body}")
file(WRITE ${fp_deb_dir}/forkpool.toml "${fp_deb_conf}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/config.example.toml)

# Debian wants man pages and the changelog gzipped with -9 and without a
# name or a time stamp (-n), so the same sources give the same package.
set(fp_deb_gz "")
foreach(pair "man/forkpool.1;forkpool.1.gz" "man/forkpool.toml.5;forkpool.toml.5.gz"
             "contrib/debian/changelog;changelog.Debian.gz")
  list(GET pair 0 in)
  list(GET pair 1 out)
  add_custom_command(OUTPUT ${fp_deb_dir}/${out}
                     COMMAND sh -c "gzip -9n -c \"$0\" > \"$1\"" ${CMAKE_SOURCE_DIR}/${in}
                             ${fp_deb_dir}/${out}
                     DEPENDS ${CMAKE_SOURCE_DIR}/${in} VERBATIM)
  list(APPEND fp_deb_gz ${fp_deb_dir}/${out})
endforeach()
add_custom_target(fp_deb_files ALL DEPENDS ${fp_deb_gz})

install(FILES ${fp_deb_dir}/forkpool.1.gz DESTINATION share/man/man1 COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${fp_deb_dir}/forkpool.toml.5.gz DESTINATION share/man/man5 COMPONENT deb
        EXCLUDE_FROM_ALL)
install(FILES ${fp_deb_src}/copyright ${fp_deb_dir}/changelog.Debian.gz
        DESTINATION share/doc/forkpool COMPONENT deb EXCLUDE_FROM_ALL)
# Debian 12 keeps units in /lib/systemd/system (lintian refuses /usr/lib
# until the /usr merge is finished), and the conffile under /etc: both are
# absolute, outside the /usr prefix.
install(FILES ${CMAKE_SOURCE_DIR}/contrib/systemd/forkpool.service
              ${CMAKE_SOURCE_DIR}/contrib/systemd/forkpool@.service
        DESTINATION /lib/systemd/system COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${fp_deb_dir}/forkpool.toml DESTINATION /etc/forkpool COMPONENT deb EXCLUDE_FROM_ALL)

set(CPACK_PACKAGE_NAME forkpool)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "forkpool maintainers <maintainers@users.noreply.r-seed-4c861bac.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "job worker daemon for Redis Streams with pre-forked children")
set(CPACK_PACKAGE_DESCRIPTION
    "A supervisor pre-forks worker children, pulls jobs from Redis Streams and
hands each to a free child over a unix socket. Jobs run in built-in
handlers, in C plugins, or in any program speaking its line protocol,
such as the Python worker helper shipped here. Outcomes go to an
optional SQLite ledger; /metrics and /readyz are served over HTTP.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_FP_STRIP ${CMAKE_STRIP})
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_SOURCE_DIR}/cmake/deb_strip.cmake)
set(CPACK_GENERATOR DEB)
# The default component (binary, header, completion, Python package) and
# "deb"; the plain man pages of the default install are left out for the
# gzipped ones (component "man").
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};forkpool;Unspecified;/"
                                 "${CMAKE_BINARY_DIR};forkpool;deb;/")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${FP_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Redis is often on another host (or managed), so it is suggested, not
# recommended; python3 and python3-redis serve the Python worker and
# producer in /usr/lib/python3/dist-packages/forkpool.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "redis-server, python3, python3-redis")
# A [[schedule]] with a timezone reads /usr/share/zoneinfo (UTC needs nothing).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "tzdata")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${fp_deb_src}/conffiles ${fp_deb_src}/postinst
                                       ${fp_deb_src}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
