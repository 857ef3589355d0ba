package dev.steadyrun.protocol;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Sent by an agent to {@code POST /api/v1/agents/register}, authenticated with the fleet join token
 * ({@code Authorization: Bearer <join token>}). The join token only admits new names: registering again under a
 * name that is already registered must present that node's current credential in {@code nodeCredential}
 * (otherwise any holder of the join token could take the node over); it then re-joins the node and keeps that
 * credential. An agent that lost its credential needs an admin to re-key the node.
 *
 * <p>A first registration may propose the credential ({@link #CREDENTIAL}): the agent stores it before it asks, so
 * an answer lost to a timeout costs nothing (the retry presents it and re-joins). Without one, the orchestrator
 * issues it.
 *
 * @param labels         placement labels such as {@code rack} and {@code zone}
 * @param nodeCredential the node's current credential when re-registering; a proposed one, or null, the first time
 * @param programs       the training programs installed on the node besides the built-in one
 *                       ({@link ProgramRef#BUILT_IN}); null or empty for none
 */
public record RegisterRequest(String nodeName, String hostname, List<GpuInfo> gpus, Map<String, String> labels,
                              String agentVersion, String nodeCredential, List<ProgramRef> programs) {

    /** A node credential: {@code srn_} and 256 random bits or more, URL-safe base64 without padding. */
    public static final Pattern CREDENTIAL = Pattern.compile("srn_[A-Za-z0-9_-]{43,200}");

    private static final SecureRandom RANDOM = new SecureRandom();

    /** A new credential of the {@link #CREDENTIAL} form: 256 random bits. */
    public static String newCredential() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return "srn_" + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** A first registration: no credential yet. */
    public RegisterRequest(String nodeName, String hostname, List<GpuInfo> gpus, Map<String, String> labels,
                           String agentVersion) {
        this(nodeName, hostname, gpus, labels, agentVersion, null, List.of());
    }

    /** A registration with no program but the built-in one. */
    public RegisterRequest(String nodeName, String hostname, List<GpuInfo> gpus, Map<String, String> labels,
                           String agentVersion, String nodeCredential) {
        this(nodeName, hostname, gpus, labels, agentVersion, nodeCredential, List.of());
    }

    /** The same registration advertising {@code programs}. */
    public RegisterRequest withPrograms(List<ProgramRef> programs) {
        return new RegisterRequest(nodeName, hostname, gpus, labels, agentVersion, nodeCredential, programs);
    }

    /** The same registration presenting {@code credential} (null for none). */
    public RegisterRequest withCredential(String credential) {
        return new RegisterRequest(nodeName, hostname, gpus, labels, agentVersion, credential, programs);
    }

    /** Never prints the credential: a logged request must not leak it. */
    @Override
    public String toString() {
        return "RegisterRequest[nodeName=" + nodeName + ", hostname=" + hostname + ", gpus=" + gpus + ", labels="
                + labels + ", agentVersion=" + agentVersion + ", nodeCredential="
                + (nodeCredential == null ? "none" : "<redacted>") + ", programs=" + programs + "]";
    }
}
