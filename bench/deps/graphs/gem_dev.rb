# Development-only gems of a Gemfile.lock per Bundler itself: the Gemfile's dependencies and
# their groups from Bundler::Dsl (the Gemfile is evaluated as Ruby, so run this only on trusted
# files), the lock's specs and needs from Bundler::LockfileParser; a locked gem is
# development-only when only gems declared solely in the development/test groups lead to it.
# Prints the names, one per line, sorted. Usage: ruby gem_dev.rb DIR (with Gemfile and Gemfile.lock)
require "bundler"
require "set"

dir = ARGV.fetch(0)
Dir.chdir(dir)
dsl = Bundler::Dsl.new
dsl.eval_gemfile("Gemfile")
lock = Bundler::LockfileParser.new(File.read("Gemfile.lock"))
needs = Hash.new { |h, k| h[k] = Set.new }
lock.specs.each { |s| s.dependencies.each { |d| needs[s.name] << d.name } }
dev_groups = %i[development test]
prod, dev = [], []
dsl.dependencies.each do |d|
  (d.groups.all? { |g| dev_groups.include?(g) } ? dev : prod) << d.name
end
# The project's own gemspec (a PATH source): what it needs is production.
lock.specs.select { |s| s.source.is_a?(Bundler::Source::Path) }.each { |s| prod.concat(needs[s.name].to_a) }
reach = lambda do |roots|
  seen = Set.new
  todo = roots.dup
  until todo.empty?
    n = todo.pop
    next if seen.include?(n)
    seen << n
    todo.concat(needs[n].to_a)
  end
  seen
end
p_reach = reach.call(prod)
d_reach = reach.call(dev - prod)
locked = lock.specs.reject { |s| s.source.is_a?(Bundler::Source::Path) }.map(&:name).to_set
puts (d_reach - p_reach).select { |n| locked.include?(n) }.sort
