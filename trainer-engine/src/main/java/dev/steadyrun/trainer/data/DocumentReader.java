package dev.steadyrun.trainer.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * Streams the raw documents of one source, file after file, one at a time. Bad input is counted in the source's
 * {@link SourceStats} and skipped; nothing here throws for bad data, only for a source path that does not exist.
 */
final class DocumentReader implements AutoCloseable {

    private static final ObjectMapper JSON = JsonMapper.builder().build();
    private static final Pattern EUROPARL_PARAGRAPH = Pattern.compile(" {2,}");

    private final SourceSpec spec;
    private final int maxDocumentBytes;
    private final SourceStats stats;
    private final List<Path> files;
    private final long totalBytes;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);

    private int fileIndex;
    private long bytesOfClosedFiles;
    private CountingStream raw;
    private InputStream open;
    private LineReader lines;
    private SourceFormat format;

    DocumentReader(SourceSpec spec, int maxDocumentBytes, SourceStats stats) throws IOException {
        this.spec = spec;
        this.maxDocumentBytes = maxDocumentBytes;
        this.stats = stats;
        this.files = listFiles(spec.path());
        long sum = 0;
        for (Path f : files) {
            sum += Files.size(f);
        }
        this.totalBytes = sum;
    }

    private static List<Path> listFiles(Path path) throws IOException {
        if (Files.isRegularFile(path)) {
            return List.of(path);
        }
        if (!Files.isDirectory(path)) {
            throw new NoSuchFileException(path.toString(), null, "source path does not exist");
        }
        try (Stream<Path> walk = Files.walk(path)) {
            return walk.filter(Files::isRegularFile)
                    .filter(p -> !hidden(path.relativize(p)))
                    .sorted()
                    .toList();
        }
    }

    private static boolean hidden(Path relative) {
        for (Path part : relative) {
            if (part.toString().startsWith(".")) {
                return true;
            }
        }
        return false;
    }

    long totalBytes() {
        return totalBytes;
    }

    /** Raw bytes consumed so far (compressed bytes for gzip files), for progress and ETA. */
    long bytesRead() {
        return bytesOfClosedFiles + (raw == null ? 0 : raw.count);
    }

    /** The next document's text as read (not yet normalized), or null when the source is exhausted. */
    String next() {
        while (true) {
            if (open == null && !openNextFile()) {
                return null;
            }
            try {
                String doc = format == SourceFormat.TEXT ? readWholeFile() : readLineDocument();
                if (doc != null) {
                    return doc;
                }
            } catch (IOException e) {
                fileFailed(e);
            }
        }
    }

    /** The next good document of the current file (bad records are counted and skipped), or null at its end. */
    private String readLineDocument() throws IOException {
        while (true) {
            int len = lines.next();
            if (len == LineReader.EOF) {
                closeFile();
                return null;
            }
            stats.documentsIn++;
            if (len == LineReader.OVERSIZED) {
                stats.bytesIn += lines.oversizedLength();
                stats.bad(BadInput.OVERSIZED_DOCUMENT);
                continue;
            }
            stats.bytesIn += len;
            String text = decode(lines.line(), len);
            if (text == null) {
                continue;
            }
            String doc = switch (format) {
                case JSONL, JSONL_GZ -> jsonText(text);
                case EUROPARL -> europarlText(text);
                default -> text;
            };
            if (doc != null) {
                return doc;
            }
        }
    }

    private String readWholeFile() throws IOException {
        Path file = files.get(fileIndex - 1);
        stats.documentsIn++;
        long size = Files.size(file);
        if (size > maxDocumentBytes) {
            stats.bytesIn += size;
            stats.bad(BadInput.OVERSIZED_DOCUMENT);
            closeFile();
            return null;
        }
        byte[] bytes = open.readNBytes(maxDocumentBytes + 1);
        closeFile();
        stats.bytesIn += bytes.length;
        if (bytes.length > maxDocumentBytes) {
            stats.bad(BadInput.OVERSIZED_DOCUMENT);
            return null;
        }
        return decode(bytes, bytes.length);
    }

    private String decode(byte[] bytes, int len) {
        try {
            return utf8.decode(ByteBuffer.wrap(bytes, 0, len)).toString();
        } catch (CharacterCodingException e) {
            stats.bad(BadInput.INVALID_UTF8);
            return null;
        }
    }

    private String jsonText(String line) {
        if (line.isBlank()) {
            stats.bad(BadInput.EMPTY_DOCUMENT);
            return null;
        }
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JacksonException e) {
            stats.bad(BadInput.MALFORMED_JSON);
            return null;
        }
        if (node == null || !node.isObject()) {
            stats.bad(BadInput.MALFORMED_JSON);
            return null;
        }
        JsonNode value = node.get(spec.field());
        if (value == null || !value.isString()) {
            stats.bad(BadInput.MISSING_FIELD);
            return null;
        }
        return value.stringValue();
    }

    private String europarlText(String line) {
        String[] fields = line.split("\t", 3);
        if (fields.length < 3) {
            stats.bad(BadInput.MISSING_FIELD);
            return null;
        }
        return EUROPARL_PARAGRAPH.matcher(fields[2]).replaceAll("\n");
    }

    private boolean openNextFile() {
        while (fileIndex < files.size()) {
            Path file = files.get(fileIndex++);
            stats.files++;
            format = spec.format() != null ? spec.format() : SourceFormat.guess(file.getFileName().toString());
            try {
                raw = new CountingStream(Files.newInputStream(file));
                InputStream in = new BufferedInputStream(raw, 1 << 16);
                in.mark(2);
                int b1 = in.read();
                int b2 = in.read();
                in.reset();
                if (b1 == 0x1f && b2 == 0x8b) {
                    in = new GZIPInputStream(in, 1 << 16);
                }
                open = in;
                lines = format == SourceFormat.TEXT ? null : new LineReader(in, maxDocumentBytes);
                return true;
            } catch (IOException e) {
                fileFailed(e);
            }
        }
        return false;
    }

    /** Counts why the current file ended early and moves on; what it gave before stays counted and kept. */
    private void fileFailed(IOException e) {
        stats.bad(e instanceof EOFException ? BadInput.TRUNCATED_GZIP
                : e instanceof ZipException ? BadInput.CORRUPT_GZIP : BadInput.UNREADABLE_FILE);
        closeFile();
    }

    private void closeFile() {
        if (raw != null) {
            bytesOfClosedFiles += raw.count;
        }
        try {
            if (open != null) {
                open.close();
            } else if (raw != null) {
                raw.close();
            }
        } catch (IOException e) {
            // Closing a file we only read cannot lose data; its read errors were already counted.
        } finally {
            open = null;
            raw = null;
            lines = null;
        }
    }

    @Override
    public void close() {
        closeFile();
    }

    private static final class CountingStream extends FilterInputStream {
        long count;

        CountingStream(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                count++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                count += n;
            }
            return n;
        }
    }
}
