// Whole-stream checks of JPEG and PNG files with the reference libraries
// themselves (libjpeg-turbo, libpng), before libvips decodes the pixels.
//
// Why: libvips 8.14 decodes a PNG that is truncated, has no IEND or an
// invalid zlib stream, and a truncated progressive JPEG, without an error or
// a warning even with fail_on=warning (measured on Debian's bad-image
// corpora): the missing rows come out black and the photo is then judged
// "no face". A decoder's error or warning must never be ignored, so every
// byte of the stream is read here first.
#include "io/integrity.hpp"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstring>
#include <vector>

namespace likeness::io {

namespace {

// ---- JPEG: decode at 1/8 scale (entropy decoding covers every byte of
// every scan; the IDCT is skipped almost entirely), any warning is damage.
struct JpegErr {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  std::string message;
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegErr*>(cinfo->err);
  char buf[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, buf);
  e->message = buf;
  std::longjmp(e->jump, 1);
}

void jpeg_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  auto* e = reinterpret_cast<JpegErr*>(cinfo->err);
  if (e->message.empty()) {
    char buf[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buf);
    e->message = buf;  // the first warning: "Corrupt JPEG data: ...", "Premature end of JPEG file"
  }
}

std::string jpeg_damage(std::string_view bytes) {
  jpeg_decompress_struct cinfo{};
  JpegErr err{};
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_fail;
  err.pub.emit_message = jpeg_message;
  std::vector<JSAMPLE> row;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return err.message.empty() ? "the JPEG data is corrupt" : err.message;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.scale_num = 1;
  cinfo.scale_denom = 8;
  cinfo.dct_method = JDCT_IFAST;
  cinfo.do_fancy_upsampling = FALSE;
  jpeg_start_decompress(&cinfo);
  row.resize(size_t(cinfo.output_width) * size_t(cinfo.output_components));
  JSAMPROW rows[1] = {row.data()};
  while (cinfo.output_scanline < cinfo.output_height) jpeg_read_scanlines(&cinfo, rows, 1);
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return err.message;  // a warning (corrupt data, premature end) is damage too
}

// ---- PNG: read every row and the end of the file (IEND, CRCs, zlib's
// Adler-32). libpng's warnings about metadata (an sRGB profile it knows to
// be slightly off, say) are not damage to the pixels; its errors are.
struct PngIo {
  std::string_view bytes;
  size_t pos = 0;
  std::string message;
  std::jmp_buf jump;
};

void png_fail(png_structp png, png_const_charp msg) {
  auto* io = static_cast<PngIo*>(png_get_error_ptr(png));
  io->message = msg ? msg : "corrupt PNG data";
  std::longjmp(io->jump, 1);
}

void png_quiet(png_structp, png_const_charp) {}

void png_source(png_structp png, png_bytep out, size_t n) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  if (io->bytes.size() - io->pos < n) png_error(png, "the file ends before the image data does (truncated)");
  std::memcpy(out, io->bytes.data() + io->pos, n);
  io->pos += n;
}

std::string png_damage(std::string_view bytes) {
  PngIo io;
  io.bytes = bytes;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &io, png_fail, png_quiet);
  if (!png) return "cannot start libpng";
  png_infop info = png_create_info_struct(png);
  png_infop end = png_create_info_struct(png);
  std::vector<png_byte> row;
  if (setjmp(io.jump)) {
    png_destroy_read_struct(&png, &info, &end);
    return io.message;
  }
  png_set_read_fn(png, &io, png_source);
  png_set_user_limits(png, 1'000'000, 1'000'000);
  png_read_info(png, info);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  row.resize(png_get_rowbytes(png, info));
  const png_uint_32 height = png_get_image_height(png, info);
  for (int p = 0; p < passes; ++p)
    for (png_uint_32 y = 0; y < height; ++y) png_read_row(png, row.data(), nullptr);
  png_read_end(png, end);  // the rest of the stream: zlib's checksum, IEND
  png_destroy_read_struct(&png, &info, &end);
  return "";
}

}  // namespace

std::string stream_damage(const std::string& format, std::string_view bytes) {
  if (format == "jpeg") return jpeg_damage(bytes);
  if (format == "png") return png_damage(bytes);
  return "";
}

}  // namespace likeness::io
