# FindVLFeat: Debian's libvlfeat-dev ships neither a CMake config nor a
# pkg-config file, so locate the header and library ourselves.
#
# Defines the imported target VLFeat::vl and VLFeat_FOUND, VLFeat_VERSION.
find_path(VLFeat_INCLUDE_DIR NAMES vl/generic.h)
find_library(VLFeat_LIBRARY NAMES vl vlfeat)

if(VLFeat_INCLUDE_DIR AND EXISTS "${VLFeat_INCLUDE_DIR}/vl/generic.h")
  file(STRINGS "${VLFeat_INCLUDE_DIR}/vl/generic.h" _vl_version_line
       REGEX "#define VL_VERSION_STRING")
  string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" VLFeat_VERSION "${_vl_version_line}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(VLFeat
  REQUIRED_VARS VLFeat_LIBRARY VLFeat_INCLUDE_DIR
  VERSION_VAR VLFeat_VERSION)

if(VLFeat_FOUND AND NOT TARGET VLFeat::vl)
  add_library(VLFeat::vl UNKNOWN IMPORTED)
  set_target_properties(VLFeat::vl PROPERTIES
    IMPORTED_LOCATION "${VLFeat_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${VLFeat_INCLUDE_DIR}"
    # VLFeat's headers are C; keep their warnings out of our build.
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${VLFeat_INCLUDE_DIR}")
endif()
mark_as_advanced(VLFeat_INCLUDE_DIR VLFeat_LIBRARY)
