# What `cmake --install` lays out for other projects: the libraries and the
# header, a pkg-config file and a CMake package. Both describe the tree
# relative to where they lie, so a tree installed under any prefix (or moved
# after installing) finds itself.
include(CMakePackageConfigHelpers)

set(NUMA_ALLOC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/numa-alloc)
install(TARGETS numapreload numapreload_static EXPORT numa-allocTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT numa-allocTargets NAMESPACE numa-alloc:: DESTINATION ${NUMA_ALLOC_CMAKE_DIR})
configure_package_config_file(cmake/numa-allocConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/numa-allocConfig.cmake
  INSTALL_DESTINATION ${NUMA_ALLOC_CMAKE_DIR})
# 0.x: a new minor version may change the API, as semantic versioning allows;
# from 1.0 on, SameMajorVersion is what the SONAME promises.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/numa-allocConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/numa-allocConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/numa-allocConfigVersion.cmake
  DESTINATION ${NUMA_ALLOC_CMAKE_DIR})

# pkg-config: prefix is found from the .pc file's own directory
# (${pcfiledir}, libdir/pkgconfig), as many ../ as libdir is deep
# (lib/x86_64-linux-gnu/pkgconfig: three).
set(NUMA_ALLOC_PC_PREFIX ${CMAKE_INSTALL_PREFIX})
set(NUMA_ALLOC_PC_LIBDIR ${CMAKE_INSTALL_FULL_LIBDIR})
set(NUMA_ALLOC_PC_INCLUDEDIR ${CMAKE_INSTALL_FULL_INCLUDEDIR})
if(NOT IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  file(RELATIVE_PATH _up /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
  string(REGEX REPLACE "/$" "" _up "${_up}")
  set(NUMA_ALLOC_PC_PREFIX "\${pcfiledir}/${_up}")
  set(NUMA_ALLOC_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  if(NOT IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(NUMA_ALLOC_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
  endif()
endif()
configure_file(numa-alloc.pc.in ${CMAKE_CURRENT_BINARY_DIR}/numa-alloc.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/numa-alloc.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
