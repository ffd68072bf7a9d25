# stuckat_library(NAME DIR): a static library from every .cpp in DIR (one concept per file, so
# the folder is the list). An empty folder gives an interface library, so the tree configures
# while a module is being written.
function(stuckat_library name dir)
  file(GLOB srcs CONFIGURE_DEPENDS ${dir}/*.cpp)
  if(srcs)
    add_library(${name} STATIC ${srcs})
    set(scope PUBLIC)
  else()
    add_library(${name} INTERFACE)
    set(scope INTERFACE)
  endif()
  set(STUCKAT_LIBRARY_SCOPE ${scope} PARENT_SCOPE)
endfunction()

# stuckat_cuda_library(NAME DIR OWNER [LIBS...]): the .cu files in DIR (a folder's cuda/) as the
# static library NAME, linked into OWNER; LIBS are further CUDA libraries it needs. Call it only
# when the CUDA backend is built.
function(stuckat_cuda_library name dir owner)
  file(GLOB cuda_srcs CONFIGURE_DEPENDS ${dir}/*.cu)
  add_library(${name} STATIC ${cuda_srcs})
  target_link_libraries(${name} PUBLIC stuckat_options stuckat_base stuckat_kernels_cuda ${ARGN})
  set_target_properties(${name} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF POSITION_INDEPENDENT_CODE ON)
  get_target_property(type ${owner} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_link_libraries(${owner} INTERFACE ${name})
  else()
    target_link_libraries(${owner} PUBLIC ${name})
  endif()
endfunction()
