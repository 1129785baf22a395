# Debian's libxsimd-dev exports a target that links "xtl", a library xsimd only needs for its
# optional xtl::xcomplex support and which the package does not depend on. dsvl does not use
# xtl; an empty stand-in target keeps the link line valid when xtl is not installed.
if(TARGET xsimd AND NOT TARGET xtl)
  get_target_property(_dsvl_xsimd_links xsimd INTERFACE_LINK_LIBRARIES)
  if(_dsvl_xsimd_links MATCHES "(^|;)xtl(;|$)")
    add_library(xtl INTERFACE IMPORTED)
  endif()
endif()
