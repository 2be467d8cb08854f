import sharp from 'sharp'

/** What phoneJpeg writes into the EXIF, for tests that look for it in derived images. */
export const PHONE_JPEG_SERIAL = 'SN-0042-1337'

/**
 * A JPEG as a phone writes it: camera make, model and serial number in EXIF, and GPS
 * coordinates. The corpus has GPS-tagged PNG, WebP and AVIF files but no such JPEG.
 */
export async function phoneJpeg(size: { width: number; height: number } = { width: 640, height: 480 }): Promise<Uint8Array> {
  return new Uint8Array(
    await sharp({ create: { ...size, channels: 3, background: '#3a7bd5' } })
      .withExif({
        IFD0: { Make: 'PhoneMaker', Model: 'Phone 15', Software: 'camera 1.0' },
        IFD2: { BodySerialNumber: PHONE_JPEG_SERIAL },
        IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2904/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 17/1 4000/100' },
      })
      .jpeg()
      .toBuffer(),
  )
}
