using System.Security.Cryptography;

namespace Wharf.Engine.Containers;

/// <summary>Random container names: an adjective, an underscore and the surname of a scientist or engineer.</summary>
public static class ContainerNames
{
    private static readonly string[] Adjectives =
    [
        "agile", "amber", "ardent", "bold", "brave", "bright", "brisk", "calm", "candid", "careful",
        "cheerful", "clever", "cosmic", "curious", "daring", "dazzling", "deft", "devoted", "eager", "earnest",
        "elated", "elegant", "epic", "fearless", "fervent", "festive", "focused", "frosty", "gallant", "gentle",
        "gifted", "glad", "golden", "graceful", "hardy", "hopeful", "humble", "jolly", "jovial", "keen",
        "kind", "lively", "loyal", "lucid", "lucky", "merry", "mellow", "modest", "nimble", "noble",
        "patient", "peaceful", "placid", "plucky", "polite", "proud", "quiet", "quirky", "radiant", "rapid",
        "ready", "serene", "sharp", "shiny", "silent", "snappy", "steady", "stoic", "sunny", "swift",
        "tender", "thrifty", "tidy", "upbeat", "valiant", "vibrant", "vigilant", "vivid", "warm", "witty",
        "wise", "zealous", "zesty",
    ];

    private static readonly string[] Surnames =
    [
        "agnesi", "ampere", "archimedes", "avogadro", "babbage", "banach", "bardeen", "bernoulli", "bohr", "boole",
        "cantor", "cauchy", "cavendish", "chandrasekhar", "curie", "dalton", "darwin", "dijkstra", "dirac", "euclid",
        "euler", "faraday", "fermat", "fermi", "feynman", "fourier", "franklin", "galileo", "galois", "gauss",
        "germain", "goedel", "hamilton", "hawking", "heisenberg", "hertz", "hilbert", "hopper", "hubble", "huygens",
        "joule", "kelvin", "kepler", "knuth", "kovalevskaya", "lagrange", "lamarr", "laplace", "leibniz", "lovelace",
        "maxwell", "meitner", "mendel", "mirzakhani", "noether", "ohm", "pascal", "pasteur", "pauli", "planck",
        "poincare", "ramanujan", "riemann", "ritchie", "rutherford", "sagan", "schrodinger", "shannon", "snyder", "tesla",
        "thompson", "torvalds", "turing", "volta", "wiles", "wu", "yalow", "yonath", "zuse",
    ];

    public static string Generate() =>
        Adjectives[RandomNumberGenerator.GetInt32(Adjectives.Length)] + "_" + Surnames[RandomNumberGenerator.GetInt32(Surnames.Length)];
}
