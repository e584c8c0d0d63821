// archiver 8 is ESM with named classes; @types/archiver describes the old default-export API.
declare module "archiver" {
  import { Transform } from "node:stream";
  export interface EntryData {
    name: string;
    date?: Date | string;
    mode?: number;
    prefix?: string;
  }
  export class Archiver extends Transform {
    append(source: NodeJS.ReadableStream | Buffer | string, data: EntryData): this;
    file(filepath: string, data: EntryData): this;
    directory(dirpath: string, destpath: false | string, data?: Partial<EntryData>): this;
    symlink(filepath: string, target: string, mode?: number): this;
    finalize(): Promise<void>;
    pointer(): number;
    abort(): this;
  }
  export class ZipArchive extends Archiver {
    constructor(options?: { zlib?: { level?: number }; store?: boolean; forceZip64?: boolean; comment?: string });
  }
  export class TarArchive extends Archiver {
    constructor(options?: { gzip?: boolean });
  }
}
