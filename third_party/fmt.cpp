// fmt's compiled part, from Debian's libfmt-dev headers (what fmt's own src/format.cc holds), so
// nothing links libfmt.so. spdlog is built on it (SPDLOG_FMT_EXTERNAL). format.cc's explicit
// instantiations differ between fmt versions: 9 (bookworm), 10 (trixie), 11 and 12 are covered,
// each as that version's src/format.cc has them.
#include <fmt/format-inl.h>

#if FMT_VERSION < 90000 || FMT_VERSION >= 130000
#error third_party/fmt.cpp knows fmt 9 to 12 (src/format.cc of the version installed holds the list)
#endif

// Where the locale parts exist: FMT_STATIC_THOUSANDS_SEPARATOR removed them up to 11.0,
// FMT_USE_LOCALE (always defined) says so from 11.1.
#if FMT_VERSION >= 110100
#define LEAF_FMT_LOCALE FMT_USE_LOCALE
#elif defined(FMT_STATIC_THOUSANDS_SEPARATOR)
#define LEAF_FMT_LOCALE 0
#else
#define LEAF_FMT_LOCALE 1
#endif

FMT_BEGIN_NAMESPACE

#if FMT_VERSION >= 120000 && LEAF_FMT_LOCALE
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
#endif

namespace detail {

template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;

#if FMT_VERSION < 120000 && LEAF_FMT_LOCALE
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
#endif

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
#if FMT_VERSION < 100000
template FMT_API void vformat_to(buffer<char>&, string_view, basic_format_args<FMT_BUFFER_CONTEXT(char)>,
                                 locale_ref);
#elif FMT_VERSION < 120000
template FMT_API void vformat_to(buffer<char>&, string_view, typename vformat_args<>::type, locale_ref);
#endif

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<wchar_t>;
template FMT_API auto decimal_point_impl(locale_ref) -> wchar_t;
template FMT_API void buffer<wchar_t>::append(const wchar_t*, const wchar_t*);

}  // namespace detail
FMT_END_NAMESPACE

#undef LEAF_FMT_LOCALE
