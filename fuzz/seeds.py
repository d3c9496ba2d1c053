#!/usr/bin/python3
"""Seed inputs for fuzz/decode_analyse_fuzzer (run by fuzz/run.sh).

    seeds.py OUT_DIR FACES_DIR CORPORA_DIR [--smoke]

Writes the seeds into OUT_DIR, replacing what it held; with --smoke, at most
SMOKE_CORPORA (24) of the corpora's images plus every face seed (`make
fuzz-smoke`: libFuzzer runs each seed once before it fuzzes, and an image that
decodes costs a face analysis, ~0.1-1 s).
Seeds:
  - image files (by their first bytes: JPEG, PNG, WebP, TIFF, HEIF/AVIF) of at
    most MAX_BYTES under CORPORA_DIR ($LIKENESS_CORPORA: the bad-image corpora
    of Debian packages that tools/corpora.sh extracts; "" for none),
    deduplicated by content; without it, the portraits of FACES_DIR/portraits
    shrunk to 256 px;
  - small real face photos made from FACES_DIR/people (long side 200 px) in
    every format and variant the decoder converts: JPEG (plain, EXIF-rotated,
    CMYK, greyscale, with an ICC profile), PNG (RGBA, 16-bit grey), WebP,
    TIFF. Photos are made here, never committed.
"""
import hashlib
import io
import os
import shutil
import sys

from PIL import Image, ImageCms

MAX_BYTES = 256 * 1024
SMOKE_CORPORA = 24


def kind(head):
    if head[:3] == b"\xff\xd8\xff":
        return "jpg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tif"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"heim", b"heis"):
        return "heif"
    return None


def corpora_seeds(root):
    """(package, kind, bytes) of every image file under root, one per content."""
    seen, out = set(), []
    for dirpath, dirnames, files in os.walk(root):
        dirnames.sort()
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            try:
                if os.path.islink(p) or not os.path.isfile(p) or os.path.getsize(p) > MAX_BYTES:
                    continue
                with open(p, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            k = kind(data[:16])
            digest = hashlib.sha1(data).hexdigest()
            if k and digest not in seen:
                seen.add(digest)
                package = os.path.relpath(p, root).split(os.sep)[0]
                out.append((package, k, data))
    return out


def shrink(path, side):
    im = Image.open(path)
    im.load()
    im = im.convert("RGB")
    im.thumbnail((side, side), Image.LANCZOS)
    return im


def encode(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def face_seeds(faces):
    people = os.path.join(faces, "people")
    photos = sorted(f for f in os.listdir(people) if f.endswith(".jpg"))
    # Different people for different variants; a set that does not depend on
    # how many photos there are beyond the first few.
    pick = [os.path.join(people, p) for p in photos[::7][:8]]
    out = []
    for i, p in enumerate(pick):
        im = shrink(p, 200)
        name = os.path.splitext(os.path.basename(p))[0]
        if i == 0:
            out.append((name + ".jpg", encode(im, "JPEG", quality=80)))
        elif i == 1:
            exif = Image.Exif()
            exif[0x0112] = 6  # orientation: rotate 90 CW to display
            out.append((name + "_exif6.jpg", encode(im.transpose(Image.ROTATE_90), "JPEG", quality=80, exif=exif)))
        elif i == 2:
            rgba = im.copy()
            rgba.putalpha(Image.new("L", im.size, 200))
            out.append((name + "_rgba.png", encode(rgba, "PNG")))
        elif i == 3:
            out.append((name + ".webp", encode(im, "WEBP", quality=75)))
        elif i == 4:
            out.append((name + ".tif", encode(im, "TIFF", compression="tiff_lzw")))
        elif i == 5:
            out.append((name + "_cmyk.jpg", encode(im.convert("CMYK"), "JPEG", quality=80)))
        elif i == 6:
            grey16 = im.convert("L").point(lambda v: v * 256, "I").convert("I;16")
            out.append((name + "_grey16.png", encode(grey16, "PNG")))
            out.append((name + "_grey.jpg", encode(im.convert("L"), "JPEG", quality=80)))
        elif i == 7:
            icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
            out.append((name + "_icc.jpg", encode(im, "JPEG", quality=80, icc_profile=icc)))
    return out


def main():
    args = [a for a in sys.argv[1:] if a != "--smoke"]
    smoke = "--smoke" in sys.argv[1:]
    if len(args) != 3:
        sys.exit(__doc__)
    out, faces, corpora = args
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)

    def write(name, data):
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)

    if corpora and os.path.isdir(corpora):
        seeds = corpora_seeds(corpora)
        source = f"{len(seeds)} image files from {corpora}"
        if smoke:
            # Round robin over (package, format), smallest first.
            groups = {}
            for s in sorted(seeds, key=lambda s: (len(s[2]), s[2])):
                groups.setdefault((s[0], s[1]), []).append(s)
            seeds = []
            while len(seeds) < SMOKE_CORPORA and any(groups.values()):
                for key in sorted(groups):
                    if groups[key] and len(seeds) < SMOKE_CORPORA:
                        seeds.append(groups[key].pop(0))
        for package, k, data in seeds:
            write(f"{package}-{hashlib.sha1(data).hexdigest()[:16]}.{k}", data)
    else:
        portraits = os.path.join(faces, "portraits")
        files = sorted(f for f in os.listdir(portraits) if f.lower().endswith((".jpg", ".jpeg", ".png")))
        for f in files:
            data = encode(shrink(os.path.join(portraits, f), 256), "JPEG", quality=80)
            write("portrait-" + os.path.splitext(f)[0] + ".jpg", data)
        source = f"no corpora at '{corpora}': {len(files)} shrunk portraits from {portraits}"
    made = face_seeds(faces)
    for name, data in made:
        write("face-" + name, data)
    print(f"seeds: {source}; {len(made)} face photos; {len(os.listdir(out))} seeds in {out}")


if __name__ == "__main__":
    main()
