# cmake/packaging.cmake - the Debian package, with CPack (included at the end
# of the top-level CMakeLists.txt, after every install() rule).
#
#   cmake -S . -B build -DCMAKE_INSTALL_PREFIX=/usr   # Debian's multiarch libdir
#   cmake --build build
#   cpack -G DEB --config build/CPackConfig.cmake      # or: cmake --build build --target package
#
# gives numa-alloc_<version>-<release>_<arch>.deb holding whatever the install()
# rules install (library, header, pkg-config and CMake package files, the
# launcher and its profile reader, the demo, the man pages), installed under /usr, plus
# /usr/share/doc/numa-alloc/copyright and changelog.Debian.gz (added by
# cmake/deb-docs.cmake into CPack's staging tree only: `cmake --install`
# does not install them). tests/test_deb_package.sh builds it, unpacks it and
# runs lintian on it.

if(NOT PROJECT_IS_TOP_LEVEL)
  return()
endif()

# Debian installs under /usr, whatever the build was configured for; the
# library goes to /usr/${CMAKE_INSTALL_LIBDIR}, which is Debian's multiarch
# directory (lib/x86_64-linux-gnu) when the prefix was /usr at configure time.
# (CPack's DEB generator uses /usr unless CPACK_PACKAGING_INSTALL_PREFIX says
# otherwise; set here, the prefix would land in the source tarball too.)
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "numa-alloc: the Debian package installs the library to "
                 "/usr/${CMAKE_INSTALL_LIBDIR}; configure with -DCMAKE_INSTALL_PREFIX=/usr "
                 "for Debian's multiarch directory")
endif()

set(CPACK_PACKAGE_NAME numa-alloc)
set(CPACK_PACKAGE_VENDOR "numa-alloc maintainers")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "NUMA-aware malloc with per-node heaps and verified placement")
set(CPACK_PACKAGE_DESCRIPTION
"numa-alloc replaces the C library's malloc family with per-node heaps: every
block belongs to one NUMA node, known from its address, and a thread allocates
from the heap of the node it runs on (or as the policy says: bind, preferred,
interleave, weighted interleave), with fallback when a node is full.
Statistics count, per node and per thread, what was handed out and where, and
ask the kernel where the pages really lie.
.
This package holds the library libnumapreload (preloaded with LD_PRELOAD, or
linked with -lnumapreload), its header numa_alloc.h with numa_malloc() and
friends, pkg-config and CMake package files, the numa-alloc launcher (which
takes numactl's options, and reads allocation-site profiles with numa-alloc
prof), numa_alloc_demo and the manual pages.")
set(CPACK_GENERATOR DEB)
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # name_version-release_arch.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER
    "numa-alloc maintainers <maintainers@users.noreply.r-seed-7db71227.example>"
    CACHE STRING "Maintainer field of the Debian package")
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends from dpkg-shlibdeps (dpkg-dev): libc6, libnuma1 (the demo), at the
# versions the binaries need; without it, the two by hand. The profile reader
# (numa-alloc prof, libexec/numa-alloc/numa-alloc-prof) needs python3 and
# addr2line (binutils); CPack adds shlibdeps' list to this one. The library
# loads libunwind.so.8 for the profile when present (libgcc_s otherwise):
# recommended, not required.
find_program(NUMA_ALLOC_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(NUMA_ALLOC_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3, binutils")
else()
  # 2.36: the library's packed relocations (DT_RELR, CMakeLists.txt).
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6 (>= 2.36), libnuma1, python3, binutils")
endif()
# The shlibs control file, so that packages linking -lnumapreload depend on
# this one (it needs the library's SONAME).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libunwind8")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# ldconfig from a dpkg trigger (lintian: lacks-ldconfig-trigger is an error).
# CPack also writes a postinst and a postrm calling ldconfig for a library in
# /usr/lib (lintian: maintscript-calls-ldconfig, a warning); empty ones of our
# own would stop that but get maintainer-script-empty instead.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_LIST_DIR}/../packaging/debian/triggers)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)

# copyright and changelog.Debian.gz, into CPack's staging tree only.
set(NUMA_ALLOC_DEB_VERSION ${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE})
configure_file(${CMAKE_CURRENT_LIST_DIR}/../packaging/changelog.Debian.in
               ${CMAKE_CURRENT_BINARY_DIR}/packaging/changelog.Debian @ONLY)
set(NUMA_ALLOC_DEB_DOCS_COPYRIGHT ${CMAKE_CURRENT_LIST_DIR}/../packaging/copyright)
set(NUMA_ALLOC_DEB_DOCS_CHANGELOG ${CMAKE_CURRENT_BINARY_DIR}/packaging/changelog.Debian)
find_program(NUMA_ALLOC_DEB_GZIP gzip)
configure_file(${CMAKE_CURRENT_LIST_DIR}/deb-docs.cmake.in
               ${CMAKE_CURRENT_BINARY_DIR}/packaging/deb-docs.cmake @ONLY)
set(CPACK_INSTALL_SCRIPTS ${CMAKE_CURRENT_BINARY_DIR}/packaging/deb-docs.cmake)

# `package_source` (a source tarball): the tree without build directories or git.
set(CPACK_SOURCE_GENERATOR TXZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\.git/" "/\\.git$" "/build[^/]*/" "/\\.cache/" "/_CPack_Packages/"
    "\\.deb$")

include(CPack)
