/** Teachers' uploads: streaming multipart reception, safe names, safe zip unpacking. */
export { receiveUpload, type ParsedUpload, type UploadLimits } from "./receive-upload";
export { checkRelativePath, safeFolderName, safeZipSegment, ZipPaths, NameRegistry } from "./names";
export { unzipInto } from "./zip";
