# NUMA_ALLOC_INTERP: the dynamic loader this compiler's programs name (their
# PT_INTERP), read from a program built here. Empty when it cannot be found
# (no readelf, a static-only toolchain): the library is then not runnable by
# itself, and `numa-alloc --version` says the library's version is unknown.
if(NOT DEFINED NUMA_ALLOC_INTERP)
  set(_probe_dir ${CMAKE_CURRENT_BINARY_DIR}/CMakeFiles/numa_alloc_interp)
  file(WRITE ${_probe_dir}/probe.c "int main(void) { return 0; }\n")
  set(_interp "")
  execute_process(COMMAND ${CMAKE_C_COMPILER} ${_probe_dir}/probe.c -o ${_probe_dir}/probe
                  RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
  if(_rc EQUAL 0 AND CMAKE_READELF)
    execute_process(COMMAND ${CMAKE_READELF} -p .interp ${_probe_dir}/probe
                    OUTPUT_VARIABLE _out ERROR_QUIET)
    string(REGEX MATCH "\\][ \t]+(/[^\n]+)" _match "${_out}")
    set(_interp "${CMAKE_MATCH_1}")
  endif()
  set(NUMA_ALLOC_INTERP "${_interp}" CACHE STRING
      "The dynamic loader libnumapreload.so names, to be runnable (empty: not runnable)")
  message(STATUS "numa-alloc: dynamic loader: ${NUMA_ALLOC_INTERP}")
endif()
