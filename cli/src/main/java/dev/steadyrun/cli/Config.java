package dev.steadyrun.cli;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

import tools.jackson.databind.JsonNode;

/**
 * The user's config file ({@code url} and {@code token}, YAML). It holds an API token, so it is written with
 * permissions 0600 (its folder 0700 when created), through a temporary file so a crash leaves the old one whole.
 */
record Config(String url, String token) {

    static final Config EMPTY = new Config(null, null);

    static Config load(Path file) throws IOException {
        if (!Files.exists(file)) {
            return EMPTY;
        }
        JsonNode node = Output.YAML.readTree(Files.readString(file));
        if (node == null || !node.isObject()) {
            return EMPTY;
        }
        return new Config(text(node, "url"), text(node, "token"));
    }

    void save(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        boolean posix = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
        if (!Files.isDirectory(dir)) {
            if (posix) {
                Files.createDirectories(dir,
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } else {
                Files.createDirectories(dir);
            }
        }
        Path temp = posix
                ? Files.createTempFile(dir, ".config", ".tmp",
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))
                : Files.createTempFile(dir, ".config", ".tmp");
        try {
            Files.writeString(temp, Output.YAML.writeValueAsString(
                    Output.YAML.createObjectNode().put("url", url).put("token", token)));
            Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    private static String text(JsonNode node, String field) {
        JsonNode value = node.get(field);
        return value == null || value.isNull() ? null : value.asString();
    }
}
