package dev.steadyrun.trainer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.nd4j.linalg.api.buffer.DataType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.steadyrun.protocol.ChaosFault;
import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.TrainerProtocol;
import dev.steadyrun.protocol.RestartKnobs;
import dev.steadyrun.protocol.RingSecret;
import dev.steadyrun.protocol.TrainerControl;
import dev.steadyrun.trainer.checkpoint.CheckpointContent;
import dev.steadyrun.trainer.checkpoint.CheckpointPaths;
import dev.steadyrun.trainer.checkpoint.CheckpointStore;
import dev.steadyrun.trainer.checkpoint.CheckpointUnavailableException;
import dev.steadyrun.trainer.checkpoint.CorruptCheckpointException;
import dev.steadyrun.trainer.data.BatchSampler;
import dev.steadyrun.trainer.data.Gpt2Tokenizer;
import dev.steadyrun.trainer.data.PrepareCommand;
import dev.steadyrun.trainer.data.TokenShards;
import dev.steadyrun.collectives.CollectiveException;
import dev.steadyrun.collectives.PeerLostException;

/** The trainer-engine command line: {@code train}, {@code eval}, {@code generate}, {@code prepare}. */
public final class Main {

    private static final Logger log = LoggerFactory.getLogger(Main.class);

    static final String USAGE = """
            usage: trainer <command> [options]     (each command takes --help)
              train     train an OPT-architecture model, printing one JSON metrics line per step
              eval      validation loss and perplexity of a checkpoint
              generate  sample text from a checkpoint
              prepare   tokenize a corpus into token shards
            """;

    static final String TRAIN_USAGE = """
            usage: trainer train [--config FILE] [--set key=value]... --checkpoint-dir DIR
                                 [--restore DIR|latest|memory:STEP] [--restore-sha256 HEX] [--snapshot-dir DIR]
                                 [--knob name=value]...
                                 [--rank R --world-size N --generation G --rendezvous host:port --run-id ID] [--json]
              --config FILE       a .json object or a .properties file of config keys (see docs/trainer.md)
              --set key=value     overrides one config key; on --restore, given keys override the checkpoint's
              --checkpoint-dir    where checkpoints are written (step-NNNNNNNN directories)
              --restore DIR       resume from that checkpoint (refused with exit 3 if it does not verify, 7 if its
                                  manifest or a file is missing or cannot be read)
              --restore-sha256 HEX  with --restore DIR: its manifest.json must have this SHA-256 (exit 3 if not)
              --restore latest    resume from the newest checkpoint in --checkpoint-dir that verifies, falling back
                                  to older ones; none at all: start from scratch
              --restore memory:STEP  resume from memory snapshot STEP, gathered over the ring from the ranks whose
                                  --snapshot-dir holds its shards (exit 7 if a shard is held by no rank, 3 if one
                                  does not verify); with --restore-sha256, its manifest must have that SHA-256
              --snapshot-dir DIR  the node's memory snapshot directory for this run (tmpfs, e.g. /dev/shm/steadyrun/
                                  run-ID): every snapshotInterval steps each rank keeps its shard there and sends a
                                  replica to its ring successor; default ROOT/run-ID when STEADYRUN_SNAPSHOT_ROOT is
                                  set (the agent passes it), else no memory snapshots
              --knob              restart knobs, each recorded in the checkpoint's history:
                                  lrMultiplier=0.9  lrOverride=1e-4  clipNorm=0.3  resetLossScaler=true
                                  skipBatches=300  optimizer=sgd|adamw
              --rank R --world-size N --generation G --rendezvous host:port
                                  data-parallel training: N ranks, rank 0 listens on host:port; batchTokens is the
                                  global batch (each rank does 1/N); every rank writes and reads its own shards of
                                  each checkpoint, so --checkpoint-dir must be shared by all ranks' nodes
              --run-id ID         the ring admits only ranks that name the same run (the agent passes its run id)
            environment: STEADYRUN_RING_SECRET, the generation's ring secret (base64url, 16+ bytes), required with
                          --world-size > 1: every hello between ranks is authenticated with it (the agent sets it)
             STEADYRUN_FAULT_FILE, test tool: the agent writes chaos faults there (hang, straggle, diverge), one a
                          line, read before each step and deleted
              --json              JSON metric lines even when stdout is a terminal
            stdout: one JSON line per optimizer step and per written checkpoint; logs go to stderr.
            exit codes: 0 done, 2 bad config, 3 corrupt checkpoint, 4 diverged (non-finite loss), 5 peer rank lost,
                        6 stale generation (refused by the ring), 7 checkpoint unavailable, 143 SIGTERM.
            """;

    static final String STANDBY_USAGE = """
            usage: trainer standby [--set key=value]...
              a hot spare (docs/trainer-protocol.md, "Warm restart"): starts ND4J, opens the data set of the given
              (or default) config, then waits for its first generation on the control file named by
              STEADYRUN_CONTROL_FILE, which hands it the arguments of a `train` command
            """;

    static final String EVAL_USAGE = """
            usage: trainer eval --checkpoint DIR [--data DIR|europarl] [--batches N]
              --checkpoint DIR  a checkpoint directory, or a checkpoint root (its newest verified checkpoint)
              --data            dataset to read the "val" split of (default: the checkpoint's data key)
              --batches N       validation micro-batches to average over (default 20)
            """;

    static final String GENERATE_USAGE = """
            usage: trainer generate --checkpoint DIR [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K]
                                    [--seed S]
              --checkpoint DIR  a checkpoint directory, or a checkpoint root (its newest verified checkpoint)
              --prompt TEXT     text to continue (default: "The")
              --tokens N        tokens to sample (default 40)
              --temperature T   softmax temperature; 0 = greedy (default 0.8)
              --top-k K         sample among the K likeliest tokens (default 40)
            """;

    private Main() {
    }

    public static void main(String[] args) {
        int code = run(args);
        if (code != Integer.MIN_VALUE) {
            System.exit(code);
        }
    }

    /** Runs a command; returns its exit code, or MIN_VALUE when a SIGTERM is ending the JVM (exit 143). */
    static int run(String[] args) {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
            System.err.print(USAGE);
            return args.length == 0 ? ExitCodes.BAD_CONFIG : ExitCodes.OK;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        if (args[0].equals("prepare")) {
            return PrepareCommand.run(rest);
        }
        boolean help = Arrays.asList(rest).contains("--help") || Arrays.asList(rest).contains("-h");
        MetricsOut out = MetricsOut.claimStdout(Arrays.asList(rest).contains("--json"));
        try {
            return switch (args[0]) {
                case "train" -> help ? usage(out, TRAIN_USAGE) : train(new Options(rest), out, false);
                case TrainerControl.STANDBY -> help ? usage(out, STANDBY_USAGE) : train(new Options(rest), out, true);
                case "eval" -> help ? usage(out, EVAL_USAGE) : eval(new Options(rest), out);
                case "generate" -> help ? usage(out, GENERATE_USAGE) : generate(new Options(rest), out);
                default -> {
                    System.err.println("error: unknown command '" + args[0] + "'");
                    System.err.print(USAGE);
                    yield ExitCodes.BAD_CONFIG;
                }
            };
        } catch (CheckpointUnavailableException e) {
            System.err.println("error: " + e.getMessage());
            return ExitCodes.CHECKPOINT_UNAVAILABLE;
        } catch (CorruptCheckpointException e) {
            System.err.println("error: " + e.getMessage());
            return ExitCodes.CORRUPT_CHECKPOINT;
        } catch (CollectiveException e) {
            reportCollective(e);
            return e.exitCode();
        } catch (IllegalArgumentException e) {
            System.err.println("error: " + e.getMessage());
            return ExitCodes.BAD_CONFIG;
        } catch (IOException | RuntimeException e) {
            System.err.println("error: " + e);
            e.printStackTrace();
            return 1;
        }
    }

    private static int usage(MetricsOut out, String text) {
        out.println(text.stripTrailing());
        return ExitCodes.OK;
    }

    /**
     * {@code train}, and {@code standby} (a hot spare: initialised, waiting for its first generation). With a control
     * channel ({@link TrainerControl#ENV}) the process outlives its generations: asked to leave one, or cut off from
     * a lost peer, it acknowledges with a {@link TrainerControl.Left} line and waits to be handed the next one,
     * keeping ND4J, the model and the data loaded (a warm restart).
     */
    private static int train(Options first, MetricsOut out, boolean standby) throws IOException {
        String faultFile = System.getenv(ChaosFault.FAULT_FILE_ENV);
        AtomicBoolean terminating = new AtomicBoolean();
        Trainer[] holder = new Trainer[1];
        Control control = Control.fromEnv(generation -> holder[0].requestLeave(generation));
        if (standby && control == null) {
            throw new IllegalArgumentException("standby needs the control file named by " + TrainerControl.ENV);
        }
        Trainer trainer = new Trainer(out::emit, faultFile == null || faultFile.isBlank() ? null : Path.of(faultFile),
                control != null);
        holder[0] = trainer;
        CountDownLatch finished = new CountDownLatch(1);
        Thread onSigterm = new Thread(() -> {
            terminating.set(true);
            trainer.requestStop();
            try {
                // the loop ends after its current step; the checkpoint store's close() waits for pending writes
                finished.await(10, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "sigterm");
        Runtime.getRuntime().addShutdownHook(onSigterm);
        int code;
        try {
            if (control != null) {
                out.reply(new TrainerControl.Hello());
            }
            Options o = first;
            RingSecret secret = RingSecret.fromEnvironment(System.getenv(RingSecret.ENV));
            // a standby's own --set keys (what a launcher script adds to every trainer) hold for every generation
            List<String> sticky = standby ? first.all("--set") : List.of();
            if (standby) {
                first.only("--set", "--json");
                trainer.warmUp(TrainConfig.parseOverrides(sticky));
                TrainerControl.Assign assign = control.next(terminating::get);
                o = assign == null ? null : assigned(assign, sticky);
                secret = assign == null ? null : RingSecret.fromEnvironment(assign.ringSecret());
            }
            code = Integer.MIN_VALUE;
            while (o != null) {
                Trainer.Launch launch = launch(o, secret);
                code = session(trainer, o, launch, control != null);
                if (control == null || terminating.get() || !staysUp(code, trainer)) {
                    break;
                }
                log.info("leaving generation {} with exit code {}, without exiting; waiting for the next one",
                        launch.generation(), code);
                System.err.println(TrainerControl.LEFT_ON_STDERR + launch.generation());
                System.err.flush();
                out.reply(new TrainerControl.Left(launch.generation(), code));
                TrainerControl.Assign assign = control.next(terminating::get);
                o = assign == null ? null : assigned(assign, sticky);
                secret = assign == null ? null : RingSecret.fromEnvironment(assign.ringSecret());
            }
        } finally {
            trainer.close();
            finished.countDown();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(onSigterm);
        } catch (IllegalStateException shuttingDown) {
            return Integer.MIN_VALUE;   // SIGTERM: the JVM exits with 143 once the hook returns
        }
        return code == Integer.MIN_VALUE ? ExitCodes.OK : code;
    }

    /** Ends of a generation that leave the process fit for the next one; anything else exits as usual. */
    private static boolean staysUp(int code, Trainer trainer) {
        return code == ExitCodes.PEER_LOST || code == ExitCodes.STALE_GENERATION
                || code == ExitCodes.TERMINATED && trainer.left();
    }

    /** The {@code train} arguments of a handed generation, with {@code sticky} {@code --set} keys laid over. */
    private static Options assigned(TrainerControl.Assign assign, List<String> sticky) {
        List<String> args = assign.args();
        if (args.isEmpty() || !args.get(0).equals("train")) {
            throw new IllegalArgumentException("control: an assignment must carry the arguments of `train`, got "
                    + args);
        }
        List<String> all = new ArrayList<>(args.subList(1, args.size()));
        for (String set : sticky) {
            all.add("--set");
            all.add(set);
        }
        return new Options(all.toArray(String[]::new));
    }

    private static Trainer.Launch launch(Options o, RingSecret secret) {
        o.only("--config", "--set", "--checkpoint-dir", "--restore", "--restore-sha256", "--knob", "--rank",
                "--world-size", "--generation", "--rendezvous", "--run-id", "--json", "--snapshot-dir");
        String dir = o.required("--checkpoint-dir");
        int worldSize = o.integer("--world-size", 1);
        if (worldSize > 1 && o.one("--rendezvous") == null) {
            throw new IllegalArgumentException("--rendezvous host:port is required when --world-size is " + worldSize);
        }
        int rank = o.integer("--rank", 0);
        if (rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("--rank must be in [0, --world-size), was " + rank);
        }
        return new Trainer.Launch(Path.of(dir), o.one("--restore"), o.one("--restore-sha256"),
                knobs(o.all("--knob")), rank, worldSize, o.integer("--generation", 0), o.one("--rendezvous"),
                o.one("--run-id"), secret, snapshotDir(o.one("--snapshot-dir"), o.one("--run-id")));
    }

    /**
     * One generation: its exit code. With {@code warm}, the ends that {@link #staysUp} keeps the process through
     * come back as codes (a lost peer, a stale generation, a leave) instead of ending the process.
     */
    private static int session(Trainer trainer, Options o, Trainer.Launch launch, boolean warm) throws IOException {
        Path config = o.one("--config") == null ? null : Path.of(o.one("--config"));
        if (config != null && !Files.isRegularFile(config)) {
            throw new IllegalArgumentException("--config: no such file " + config);
        }
        Map<String, String> explicit = config == null ? new LinkedHashMap<>() : TrainConfig.readFile(config);
        explicit.putAll(TrainConfig.parseOverrides(o.all("--set")));
        try {
            trainer.run(explicit, launch);
            return trainer.left() ? ExitCodes.TERMINATED : ExitCodes.OK;
        } catch (Trainer.DivergedException e) {
            System.err.println("error: diverged: " + e.getMessage());
            return ExitCodes.DIVERGED;
        } catch (CollectiveException e) {
            if (!warm) {
                throw e;
            }
            reportCollective(e);
            return e.exitCode();
        }
    }

    /** A lost peer (5) or a stale generation (6): the orchestrator restarts the generation. */
    private static void reportCollective(CollectiveException e) {
        System.err.println("error: data parallel: " + e.getMessage());
        if (e instanceof PeerLostException lost) {
            // last, so it is in the log tail the agent sends: the orchestrator reads who is cut off from it
            lost.check().ifPresent(check -> System.err.println(check.line()));
        }
    }

    /**
     * {@code --snapshot-dir}, else the run's directory under the node's snapshot root that the agent passes
     * ({@link TrainerProtocol#SNAPSHOT_ROOT_ENV}), else null: no memory snapshots.
     */
    private static Path snapshotDir(String option, String runId) {
        if (option != null) {
            return Path.of(option);
        }
        String root = System.getenv(TrainerProtocol.SNAPSHOT_ROOT_ENV);
        return root == null || root.isBlank() ? null
                : Path.of(root.strip()).resolve("run-" + (runId == null ? DataParallel.RING_ID : runId));
    }

    /** The {@code --knob} arguments, read by the one encoding the agent writes them with. */
    static RestartKnobs knobs(List<String> knobs) {
        try {
            return RestartKnobs.fromArgs(knobs);
        } catch (RestartKnobs.InvalidKnobException e) {
            throw new IllegalArgumentException("--knob " + e.knob() + ": " + e.reason());
        }
    }

    /** A model restored from a checkpoint directory, or from the newest verified checkpoint under a root. */
    private record Loaded(TrainConfig config, OptModel model, long step) {
        static Loaded from(String path) throws IOException {
            Path dir = Path.of(path);
            Path checkpoint = Files.exists(dir.resolve(CheckpointPaths.MANIFEST)) ? dir : Resume.latest(dir);
            if (checkpoint == null) {
                throw new IllegalArgumentException("--checkpoint: no checkpoint in " + dir);
            }
            CheckpointContent c = CheckpointStore.load(checkpoint);
            TrainConfig config = TrainConfig.fromMap(TrainState.fromJson(c.stateJson()).config());
            Host.applyThreads(config.threads());
            OptModel model = OptModel.fromParams(config.modelConfig(), DataType.FLOAT, Resume.prefixed(c, "param/"),
                    config.precision() == TrainConfig.Precision.FP16_EMULATED);
            return new Loaded(config, model, c.step());
        }
    }

    private static int eval(Options o, MetricsOut out) throws IOException {
        o.only("--checkpoint", "--data", "--batches", "--json");
        Loaded l = Loaded.from(o.required("--checkpoint"));
        int batches = o.integer("--batches", 20);
        String data = o.one("--data") != null ? o.one("--data") : l.config().data();
        double lossSum = 0;
        long tokens = 0;
        try (TokenShards val = TokenShards.open(Host.dataset(data), "val")) {
            BatchSampler sampler = new BatchSampler(val, 0, l.config().microBatch(), l.config().seqLen(), 0, 1);
            for (int i = 0; i < batches; i++) {
                OptModel.Pass p = l.model().loss(sampler.next());
                lossSum += p.lossSum();
                tokens += p.tokens();
            }
        }
        double loss = lossSum / tokens;
        out.println(String.format(Locale.ROOT, "{\"type\":\"eval\",\"step\":%d,\"valLoss\":%.6f,\"perplexity\":%.4f,"
                + "\"tokens\":%d}", l.step(), loss, Math.exp(loss), tokens));
        return ExitCodes.OK;
    }

    private static int generate(Options o, MetricsOut out) throws IOException {
        o.only("--checkpoint", "--prompt", "--tokens", "--temperature", "--top-k", "--seed", "--json");
        Loaded l = Loaded.from(o.required("--checkpoint"));
        Gpt2Tokenizer tokenizer = new Gpt2Tokenizer();
        String prompt = o.one("--prompt") != null ? o.one("--prompt") : "The";
        int n = o.integer("--tokens", 40);
        double temperature = Double.parseDouble(o.one("--temperature") != null ? o.one("--temperature") : "0.8");
        int topK = o.integer("--top-k", 40);
        Random random = new Random(o.integer("--seed", 1));
        List<Integer> ids = new ArrayList<>();
        for (int t : tokenizer.encode(prompt)) {
            ids.add(t);
        }
        if (ids.isEmpty()) {
            throw new IllegalArgumentException("--prompt: encodes to no tokens");
        }
        List<Integer> sampled = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            double[] logits = l.model().nextTokenLogits(ids.stream().mapToInt(Integer::intValue).toArray());
            int next = sample(logits, Math.min(Gpt2Tokenizer.VOCAB_SIZE, logits.length), temperature, topK, random);
            ids.add(next);
            sampled.add(next);
        }
        out.println(prompt + tokenizer.decode(sampled.stream().mapToInt(Integer::intValue).toArray()));
        return ExitCodes.OK;
    }

    /** Top-k sampling with temperature over the first {@code usable} ids (padding rows are never sampled). */
    static int sample(double[] logits, int usable, double temperature, int topK, Random random) {
        Integer[] order = new Integer[usable];
        for (int i = 0; i < usable; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(logits[b], logits[a]));
        if (temperature <= 0) {
            return order[0];
        }
        int k = Math.max(1, Math.min(topK, usable));
        double[] w = new double[k];
        double total = 0;
        for (int i = 0; i < k; i++) {
            w[i] = Math.exp((logits[order[i]] - logits[order[0]]) / temperature);
            total += w[i];
        }
        double u = random.nextDouble() * total;
        for (int i = 0; i < k; i++) {
            u -= w[i];
            if (u <= 0) {
                return order[i];
            }
        }
        return order[k - 1];
    }

    /** {@code --name value} options; repeated ones are kept in order. */
    static final class Options {
        private final Map<String, List<String>> values = new LinkedHashMap<>();

        Options(String[] args) {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (!a.startsWith("--")) {
                    throw new IllegalArgumentException("unexpected argument '" + a + "'");
                }
                if (a.equals("--json")) {
                    values.computeIfAbsent(a, k -> new ArrayList<>()).add("true");
                    continue;
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(a + ": missing value");
                }
                values.computeIfAbsent(a, k -> new ArrayList<>()).add(args[++i]);
            }
        }

        void only(String... allowed) {
            for (String name : values.keySet()) {
                if (!Arrays.asList(allowed).contains(name)) {
                    throw new IllegalArgumentException("unknown option " + name + " (see --help)");
                }
            }
        }

        String one(String name) {
            List<String> v = values.get(name);
            return v == null ? null : v.get(v.size() - 1);
        }

        List<String> all(String name) {
            return values.getOrDefault(name, List.of());
        }

        String required(String name) {
            String v = one(name);
            if (v == null) {
                throw new IllegalArgumentException(name + " is required (see --help)");
            }
            return v;
        }

        int integer(String name, int fallback) {
            String v = one(name);
            try {
                return v == null ? fallback : Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + ": not an integer: '" + v + "'");
            }
        }
    }
}
