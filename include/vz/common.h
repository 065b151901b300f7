/* SPDX-License-Identifier: MIT */
/**
 * @file common.h
 * @brief Export and declaration macros shared by every libvz header.
 */
#ifndef VZ_COMMON_H
#define VZ_COMMON_H

#if defined(VZ_BUILDING_LIBRARY) && defined(__GNUC__)
/** Marks a symbol as part of libvz's public, exported ABI. */
#define VZ_API __attribute__((visibility("default")))
#else
/** Marks a symbol as part of libvz's public, exported ABI. */
#define VZ_API
#endif

#if defined(__GNUC__)
/** Marks a function that will be removed at the next major version. */
#define VZ_DEPRECATED(msg) __attribute__((deprecated(msg)))
/** The caller should not ignore the return value. */
#define VZ_WARN_UNUSED __attribute__((warn_unused_result))
#else
/** Marks a function that will be removed at the next major version. */
#define VZ_DEPRECATED(msg)
/** The caller should not ignore the return value. */
#define VZ_WARN_UNUSED
#endif

#ifdef __cplusplus
/** Opens an extern "C" block in C++ translation units. */
#define VZ_BEGIN_DECLS extern "C" {
/** Closes the block opened by VZ_BEGIN_DECLS. */
#define VZ_END_DECLS }
#else
/** Opens an extern "C" block in C++ translation units (empty in C). */
#define VZ_BEGIN_DECLS
/** Closes the block opened by VZ_BEGIN_DECLS (empty in C). */
#define VZ_END_DECLS
#endif

#endif /* VZ_COMMON_H */
