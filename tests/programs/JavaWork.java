// JavaWork.java - the workload of run-java.sh: 12 tasks on a pool of 6 threads,
// each through what the JVM takes from malloc (zlib's Deflater and Inflater,
// direct ByteBuffers, file channels, the JIT's and the class loader's own
// memory) and its garbage-collected heap (maps, strings, arrays). Prints one
// deterministic line per task and a total.
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

public class JavaWork {
    static String task(int seed, Path dir) throws Exception {
        long acc = 0;
        HashMap<String, Integer> m = new HashMap<>();
        for (int i = 0; i < 300000; i++)
            m.merge("k" + ((i * 7919L + seed) % 40000), 1, Integer::sum);
        for (int v : m.values())
            acc += v;

        MessageDigest md = MessageDigest.getInstance("SHA-256");
        byte[] buf = new byte[1 << 20];
        for (int i = 0; i < buf.length; i++)
            buf[i] = (byte) ((i * 31 + seed) >> 7);
        for (int r = 0; r < 10; r++) {
            Deflater d = new Deflater(1 + (r + seed) % 9);
            d.setInput(buf);
            d.finish();
            byte[] out = new byte[buf.length + 1024];
            int n = d.deflate(out);
            d.end();
            Inflater in = new Inflater();
            in.setInput(out, 0, n);
            byte[] back = new byte[buf.length];
            acc += in.inflate(back);
            in.end();
            md.update(back, 0, 4096 * (r + 1));
        }

        List<ByteBuffer> direct = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            ByteBuffer bb = ByteBuffer.allocateDirect(64 + (int) ((i * 2654435761L + seed) % 300000));
            for (int j = 0; j < bb.capacity(); j += 4096)
                bb.put(j, (byte) (i + j));
            acc += bb.get(bb.capacity() / 2);
            if (i % 4 == 0)
                direct.add(bb);
        }
        acc += direct.size();

        Path file = dir.resolve("f" + seed);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.READ, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer w = ByteBuffer.allocateDirect(buf.length);
            w.put(buf).flip();
            ch.write(w);
            ByteBuffer r = ByteBuffer.allocateDirect(buf.length);
            ch.read(r, 0);
            r.flip();
            acc += r.equals(w.flip()) ? 1 : 0;
        }
        Files.delete(file);

        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 100000; i++)
            sb.append(i % 97).append(',');
        md.update(sb.toString().getBytes("UTF-8"));
        StringBuilder hex = new StringBuilder();
        for (byte b : md.digest())
            hex.append(String.format("%02x", b));
        return "task " + seed + ": " + acc + " " + hex;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : ".");
        ExecutorService pool = Executors.newFixedThreadPool(6);
        List<Future<String>> results = new ArrayList<>();
        for (int t = 0; t < 12; t++) {
            final int seed = t;
            results.add(pool.submit(() -> task(seed, dir)));
        }
        for (Future<String> f : results)
            System.out.println(f.get());
        pool.shutdown();
        System.out.println("done");
    }
}
